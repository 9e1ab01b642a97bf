"""/healthz: 200 with a database check, 503 when the database is down; Redis reported, not fatal."""

import pytest
from django.db import OperationalError

from billing_centre import health


class _BrokenConnection:
    """Stands in for django.db.connection when the database is down."""

    def cursor(self):
        raise OperationalError("could not connect to server: Connection refused")


class _FakeRedis:
    def __init__(self, answers: bool):
        self.answers = answers

    def ping(self):
        if not self.answers:
            raise ConnectionError("Connection refused")
        return True

    def close(self):
        pass


@pytest.mark.django_db
def test_healthz_answers_200_json_when_the_database_answers(client, settings):
    settings.REDIS_URL = ""

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok", "database": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_healthz_answers_503_when_the_database_is_down(client, settings, monkeypatch):
    settings.REDIS_URL = ""
    monkeypatch.setattr(health, "connection", _BrokenConnection())

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "unavailable"}


@pytest.mark.django_db
def test_healthz_reports_redis_down_without_failing(client, settings, monkeypatch):
    settings.REDIS_URL = "redis://127.0.0.1:6399/0"
    monkeypatch.setattr("redis.Redis.from_url", lambda url, **kw: _FakeRedis(answers=False))

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "database": "ok", "redis": "unavailable"}


@pytest.mark.django_db
def test_healthz_reports_redis_ok_when_it_answers(client, settings, monkeypatch):
    settings.REDIS_URL = "redis://127.0.0.1:6399/0"
    seen = {}

    def from_url(url, **kwargs):
        seen["url"] = url
        seen["timeout"] = kwargs.get("socket_connect_timeout")
        return _FakeRedis(answers=True)

    monkeypatch.setattr("redis.Redis.from_url", from_url)

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok"}
    assert seen["url"] == "redis://127.0.0.1:6399/0"
    assert seen["timeout"] is not None and seen["timeout"] <= 2


@pytest.mark.django_db
def test_healthz_with_redis_refusing_connections_still_answers_quickly(client, settings):
    # A real client against a closed port: nothing listens on 127.0.0.1:1.
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["redis"] == "unavailable"


def test_healthz_database_down_and_redis_down_is_503(client, settings, monkeypatch):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    monkeypatch.setattr(health, "connection", _BrokenConnection())

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "unavailable", "redis": "unavailable"}


def test_healthz_refuses_post(client):
    response = client.post("/healthz")

    assert response.status_code == 405
