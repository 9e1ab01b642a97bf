"""/healthz/live and /healthz/ready for load balancers, under production-like settings.

A load balancer probes each node by its own address over plain HTTP
(``GET http://10.0.0.5:8000/healthz/ready``, ``Host: 10.0.0.5:8000``): the probes answer it, while
every other path keeps the HTTPS redirect and the host check (billing_centre.health).
"""

from __future__ import annotations

import pytest
from django.db import connections
from django.db.backends.postgresql.base import DatabaseWrapper as PostgresWrapper
from django.test import Client

from billing_centre import health

PROBES = ["/healthz", "/healthz/live", "/healthz/ready"]
NODE = "10.0.0.5:8000"


@pytest.fixture
def production(settings):
    """DEBUG off, HTTPS redirect on, one public host name, behind a TLS proxy (as DJANGO_DEBUG=0)."""
    settings.DEBUG = False
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.ALLOWED_HOSTS = ["portal.example"]
    settings.REDIS_URL = ""
    return settings


@pytest.fixture
def unreachable_database():
    """A real PostgreSQL connection to a closed port (nothing listens on 127.0.0.1:1)."""
    params = dict(connections["default"].settings_dict)
    params.update(
        ENGINE="django.db.backends.postgresql",
        NAME="billing_centre",
        USER="postgres",
        PASSWORD="",
        HOST="127.0.0.1",
        PORT="1",
        OPTIONS={"connect_timeout": 2},
    )
    wrapper = PostgresWrapper(params, alias="unreachable")
    yield wrapper
    wrapper.close()


@pytest.mark.django_db
@pytest.mark.parametrize("path", PROBES)
def test_probe_over_http_with_the_node_address_as_host_answers_200(client, production, path):
    response = client.get(path, HTTP_HOST=NODE)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json()["status"] == "ok"
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_other_paths_over_http_are_redirected_to_https(client, production):
    response = client.get("/help/", HTTP_HOST="portal.example")

    assert response.status_code == 301
    assert response["Location"] == "https://portal.example/help/"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/help/", "/", "/healthz/ready/", "/healthz/other", "/admin/"])
def test_other_paths_with_a_host_not_allowed_answer_400(client, production, path):
    response = client.get(path, HTTP_HOST=NODE, HTTP_X_FORWARDED_PROTO="https")

    assert response.status_code == 400


@pytest.mark.django_db
def test_allowed_host_over_https_still_gets_the_page(client, production):
    response = client.get("/help/", HTTP_HOST="portal.example", HTTP_X_FORWARDED_PROTO="https")

    assert response.status_code == 200


def test_live_touches_no_database(client, production, unreachable_database, monkeypatch):
    # Without django_db, any query would fail the test; the database is also made unreachable.
    monkeypatch.setattr(health, "connection", unreachable_database)

    response = client.get("/healthz/live", HTTP_HOST=NODE)

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db  # database access allowed: the failure is the closed port
@pytest.mark.parametrize("path", ["/healthz/ready", "/healthz"])
def test_ready_answers_503_when_the_database_cannot_be_reached(
    client, production, unreachable_database, monkeypatch, path
):
    monkeypatch.setattr(health, "connection", unreachable_database)

    response = client.get(path, HTTP_HOST=NODE)

    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "unavailable"}


@pytest.mark.django_db
def test_ready_reports_redis_without_deciding(client, production):
    production.REDIS_URL = "redis://127.0.0.1:1/0"  # a real client against a closed port

    response = client.get("/healthz/ready", HTTP_HOST=NODE)

    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "database": "ok", "redis": "unavailable"}


@pytest.mark.parametrize("path", PROBES)
def test_a_post_to_a_probe_is_not_a_probe_and_meets_the_host_and_csrf_checks(production, path):
    client = Client(enforce_csrf_checks=True)

    assert client.post(path, HTTP_HOST=NODE).status_code == 400
    assert client.post(path, HTTP_HOST="portal.example", secure=True).status_code == 403


def test_the_redirect_exemption_covers_exactly_the_probes(settings):
    import re

    patterns = [re.compile(p) for p in settings.SECURE_REDIRECT_EXEMPT]

    def exempt(path):
        return any(p.search(path.lstrip("/")) for p in patterns)

    assert all(exempt(path) for path in PROBES)
    assert not any(exempt(path) for path in ["/", "/help/", "/healthz/", "/healthz/ready/x", "/x/healthz"])
