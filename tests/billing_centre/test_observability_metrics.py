"""``/metrics`` (billing_centre/observability/metrics.py): closed to the public, open with the token or
from an allowed address, and the metrics computed at scrape time (queue depth, job age)."""

from __future__ import annotations

import datetime
import math
import os
import urllib.request
import uuid

import pytest
from django.utils import timezone
from kombu import Queue
from prometheus_client.parser import text_string_to_metric_families

from accounts.models import JobRun

pytestmark = pytest.mark.django_db

TOKEN = "scrape-token-0123456789abcdef"
REDIS_URL = os.environ.get("REDIS_URL", "")


@pytest.fixture(autouse=True)
def _metrics_settings(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = []


def samples(body: bytes) -> dict[tuple, float]:
    """{(sample name, frozenset(labels)): value} of an exposition."""
    found = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def scrape(client) -> dict[tuple, float]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return samples(response.content)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_AUTHORIZATION": "Bearer wrong-token"},
        {"HTTP_AUTHORIZATION": f"Basic {TOKEN}"},
        {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}x"},
        # X-Forwarded-For is written by the client: it never opens the endpoint
        {"HTTP_X_FORWARDED_FOR": "10.1.2.3"},
    ],
)
def test_closed_to_the_public(client, settings, headers):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]

    assert client.get("/metrics", **headers).status_code == 404
    assert client.post("/metrics", **headers).status_code == 404


def test_closed_to_everyone_when_neither_token_nor_addresses_are_set(client, settings):
    settings.METRICS_TOKEN = ""

    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404
    assert client.get("/metrics").status_code == 404


def test_open_with_the_token(client):
    body = scrape(client)

    assert any(name.startswith("bc_http_request_duration_seconds") for name, _ in body)


def test_open_from_an_allowed_address_without_the_token(client, settings):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8", "192.0.2.10"]

    assert client.get("/metrics", REMOTE_ADDR="10.20.30.40").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.10").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.11").status_code == 404


def test_metrics_are_exempt_from_the_https_redirect(client, settings):
    settings.SECURE_SSL_REDIRECT = True

    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    assert client.get("/help/").status_code == 301  # the rest of the site still redirects


def test_request_latency_is_counted_by_view(client):
    before = scrape(client).get(
        ("bc_http_request_duration_seconds_count", frozenset({("view", "help"), ("method", "GET")})), 0
    )
    client.get("/help/")
    client.get("/help/")

    after = scrape(client)[("bc_http_request_duration_seconds_count", frozenset({("view", "help"), ("method", "GET")}))]
    assert after == before + 2


def test_age_of_the_last_successful_run_of_each_job(client, settings):
    settings.JOB_DEADLINES = {"autopay_run": "09:00", "fees_assess": "07:30"}
    settings.JOB_MAX_SILENCE = {}
    now = timezone.now()
    finished = now - datetime.timedelta(hours=2)
    JobRun.objects.create(job="autopay_run", status=JobRun.Status.SUCCEEDED, started_at=finished, finished_at=finished)
    # A later run that failed does not count as a success
    JobRun.objects.create(job="autopay_run", status=JobRun.Status.FAILED, started_at=now, finished_at=now)

    body = scrape(client)

    stamp = body[("bc_job_last_success_timestamp_seconds", frozenset({("job", "autopay_run")}))]
    assert stamp == pytest.approx(finished.timestamp())
    age = body[("bc_job_last_success_age_seconds", frozenset({("job", "autopay_run")}))]
    assert 2 * 3600 <= age < 3 * 3600
    # A configured job that never succeeded: infinitely old, so an alert on age fires.
    assert math.isinf(body[("bc_job_last_success_age_seconds", frozenset({("job", "fees_assess")}))])


def test_the_last_finished_run_of_each_job_gives_its_duration_counts_and_failure(client):
    now = timezone.now()
    hour = datetime.timedelta(hours=1)
    JobRun.objects.create(
        job="autopay_run",
        status=JobRun.Status.SUCCEEDED,
        started_at=now - 25 * hour,
        finished_at=now - 25 * hour + datetime.timedelta(seconds=30),
        counts={"paid": 1},
    )
    JobRun.objects.create(
        job="autopay_run",
        status=JobRun.Status.SUCCEEDED,
        started_at=now - hour,
        finished_at=now - hour + datetime.timedelta(seconds=95),
        counts={"paid": 12, "declined": 2, "note": "text is not a count"},
    )
    JobRun.objects.create(job="autopay_run", status=JobRun.Status.RUNNING, started_at=now)  # not finished
    JobRun.objects.create(
        job="fees_assess", status=JobRun.Status.FAILED, started_at=now - hour, finished_at=now - hour, counts={}
    )

    body = scrape(client)

    autopay = frozenset({("job", "autopay_run")})
    assert body[("bc_job_last_run_duration_seconds", autopay)] == 95
    assert body[("bc_job_last_run_failed", autopay)] == 0
    assert body[("bc_job_last_run_items", autopay | {("outcome", "paid")})] == 12
    assert body[("bc_job_last_run_items", autopay | {("outcome", "declined")})] == 2
    assert ("bc_job_last_run_items", autopay | {("outcome", "note")}) not in body
    assert body[("bc_job_last_run_failed", frozenset({("job", "fees_assess")}))] == 1


@pytest.mark.needs_redis
@pytest.mark.skipif(not REDIS_URL, reason="REDIS_URL is not set: no Redis to measure queues in")
def test_queue_depth_is_read_from_redis(client, settings):
    import redis

    queue = f"bc-test-depth-{uuid.uuid4().hex[:10]}"
    empty = f"{queue}-empty"
    settings.CELERY_BROKER_URL = REDIS_URL
    settings.CELERY_TASK_QUEUES = [Queue(queue, routing_key=queue), Queue(empty, routing_key=empty)]
    connection = redis.Redis.from_url(REDIS_URL)
    try:
        connection.lpush(queue, "m1", "m2", "m3")
        connection.lpush(f"{queue}\x06\x166", "high")  # kombu's key for priority 6
        body = scrape(client)
    finally:
        connection.delete(queue, f"{queue}\x06\x166")
        connection.close()

    assert body[("bc_celery_broker_up", frozenset())] == 1
    assert body[("bc_celery_queue_length", frozenset({("queue", queue)}))] == 4
    assert body[("bc_celery_queue_length", frozenset({("queue", empty)}))] == 0


def test_a_broker_that_is_down_is_reported_and_the_scrape_still_answers(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1

    body = scrape(client)

    assert body[("bc_celery_broker_up", frozenset())] == 0
    assert not [key for key in body if key[0] == "bc_celery_queue_length"]


@pytest.mark.needs_redis
@pytest.mark.needs_worker
@pytest.mark.skipif(not REDIS_URL, reason="REDIS_URL is not set: no broker for a real worker")
@pytest.mark.parametrize("pool", ["solo", "prefork"])
def test_a_worker_serves_the_metrics_of_the_tasks_it_ran_on_its_own_port(tmp_path, pool):
    """What a worker counts (tasks, payments, AutoPay runs) is served by the worker itself; with
    prefork, the sums of its pool processes (PROMETHEUS_MULTIPROC_DIR), as in production."""
    from billing_centre.celery import app
    from billing_centre.tasks import ping
    from tests.processes import free_port, wait_until
    from tests.workers import worker_start, worker_stop

    queue = f"bc-test-metrics-{uuid.uuid4().hex[:12]}"
    port = free_port()
    env = {**os.environ, "REDIS_URL": REDIS_URL, "BC_WORKER_METRICS_PORT": str(port)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    if pool == "prefork":
        (tmp_path / "prometheus").mkdir()
        env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "prometheus")
    log_path = tmp_path / "worker.log"
    process = worker_start(queues=[queue], name=queue, env=env, log_path=log_path, pool=pool, concurrency=2)
    try:
        app.conf.task_always_eager = False  # tests/conftest.py restores it
        results = [ping.apply_async(args=[f"m{i}"], queue=queue) for i in range(3)]
        try:
            assert [result.get(timeout=60) for result in results] == ["m0", "m1", "m2"]
        except Exception:
            pytest.fail(f"no result from the worker (alive: {process.poll() is None}):\n{log_path.read_text()}")
        for result in results:
            result.forget()

        def served() -> dict:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
                    return samples(response.read())
            except OSError:
                return {}

        ran = ("bc_celery_tasks_total", frozenset({("task", "billing_centre.ping"), ("state", "SUCCESS")}))
        wait_until(lambda: served().get(ran) == 3, timeout=30, message=f"3 pings counted at :{port}/metrics")
    finally:
        worker_stop(process)
