"""Logs and the request id (billing_centre/observability, core.request_context): one id per request,
from the proxy's header or made here, on the response, on every log record of the request, on the
audit events it writes, and in the headers of the Celery tasks it queues."""

from __future__ import annotations

import io
import json
import logging
import os
import uuid

import pytest
from django.db import transaction
from django.http import HttpResponse
from django.urls import path

from accounts.models import AuditEvent, Role
from billing_centre.observability.logs import logging_config
from core.request_context import (
    RequestContextFilter,
    request_context,
    request_id,
    request_id_accept,
)
from tests.accounts.factories import CompanyFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.addFilter(RequestContextFilter())
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)

    def named(self, name):
        return [r for r in self.records if r.name == name]


@pytest.fixture
def records():
    handler = _Records()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


@pytest.mark.parametrize(
    "given",
    [
        "0f8fad5b-d9cb-469f-a165-70867728950e",  # a UUID
        "4c3f1d0e9b8a7f6e5d4c3b2a19081726",  # nginx's $request_id
        "edge.req_42-abc",
    ],
)
def test_a_well_formed_id_from_the_proxy_is_kept_and_returned(client, given):
    response = client.get("/help/", HTTP_X_REQUEST_ID=given)

    assert response.status_code == 200
    assert response["X-Request-ID"] == given


@pytest.mark.parametrize(
    "given",
    ["short", "x" * 65, "has space in it", "quote\"'injected", "line\nbreak-000000", "<script>alert(1)</script>"],
)
def test_a_malformed_id_from_the_proxy_is_replaced_by_a_new_one(client, given):
    response = client.get("/help/", HTTP_X_REQUEST_ID=given)

    returned = response["X-Request-ID"]
    assert returned != given
    assert request_id_accept(returned) == returned  # itself well formed
    assert len(returned) == 32


def test_without_a_header_each_request_gets_its_own_id(client):
    first = client.get("/help/")["X-Request-ID"]
    second = client.get("/help/")["X-Request-ID"]

    assert first != second
    assert request_id() is None  # nothing left behind after the request


def test_one_request_line_with_method_path_without_query_status_duration_and_view(client, records):
    response = client.get("/help/?token=secret-in-the-query", HTTP_X_REQUEST_ID="req-line-0001")

    (line,) = records.named("billing_centre.request")
    assert (line.method, line.path, line.status, line.view) == ("GET", "/help/", 200, "help")
    assert isinstance(line.duration_ms, float) and line.duration_ms >= 0
    assert line.request_id == "req-line-0001" == response["X-Request-ID"]
    assert line.client_ip == "127.0.0.1"
    assert "secret-in-the-query" not in line.getMessage()
    assert "token" not in line.path


def test_a_path_no_pattern_takes_is_logged_as_unmatched(client, records):
    client.get("/no-such-page/")

    (line,) = records.named("billing_centre.request")
    assert (line.status, line.view) == (404, "unmatched")


def test_records_of_a_logged_in_request_carry_user_and_company(client, records):
    company = CompanyFactory()
    user = UserFactory()
    MembershipFactory(user=user, company=company, role=Role.ADMINISTRATOR)
    client.force_login(user)

    client.get("/invoices/accounts/", HTTP_X_REQUEST_ID="req-user-0001")

    (line,) = records.named("billing_centre.request")
    assert line.status == 200
    assert (line.user_id, line.company_id, line.request_id) == (user.pk, company.pk, "req-user-0001")


def test_logging_adds_no_query_to_a_page(client, django_assert_num_queries, records):
    """The user and company are read from what the request loaded: an anonymous page stays at 0."""
    with django_assert_num_queries(0):
        client.get("/help/")
    (line,) = records.named("billing_centre.request")
    assert line.user_id is None


def test_audit_events_store_the_request_id(client):
    """A real audited write through a view (a card added to the wallet), then a shell's write."""
    from accounts.audit import audit_record

    company = CompanyFactory()
    admin = UserFactory()
    MembershipFactory(user=admin, company=company, role=Role.ADMINISTRATOR)
    client.force_login(admin)

    response = client.post(
        "/payments/wallet/add/",
        {
            "kind": "credit_card",
            "holder_name": "홍길동",
            "card_number": "4242424242424242",
            "exp_month": "12",
            "exp_year": "2031",
            "cvc": "123",
        },
        HTTP_X_REQUEST_ID="req-audit-0001",
    )

    assert response.status_code == 302
    events = list(AuditEvent.objects.filter(company=company))
    assert events and all(e.request_id == "req-audit-0001" for e in events)
    assert audit_record(action="test.outside").request_id == ""  # a shell: no request


def test_json_format_has_every_field_and_the_traceback():
    config = logging_config(fmt="json")
    formatter_config = dict(config["formatters"]["json"])
    from pythonjsonlogger.json import JsonFormatter

    formatter_config.pop("()")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(**formatter_config))
    handler.addFilter(RequestContextFilter())
    logger = logging.getLogger("tests.observability.json")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with request_context("req-json-0001", client_ip="203.0.113.7", user_id=7, company_id=3):
            logger.info("paid %s", "INV1", extra={"duration_ms": 12.5})
            try:
                raise ValueError("boom")
            except ValueError:
                logger.exception("failed")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True

    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "paid INV1"
    assert (first["level"], first["logger"]) == ("INFO", "tests.observability.json")
    assert (first["request_id"], first["user_id"], first["company_id"], first["client_ip"]) == (
        "req-json-0001",
        7,
        3,
        "203.0.113.7",
    )
    assert first["duration_ms"] == 12.5
    # ISO 8601 with its offset
    import datetime

    assert datetime.datetime.fromisoformat(first["time"]).utcoffset() is not None
    assert second["level"] == "ERROR" and "ValueError: boom" in second["exc_info"]


def test_text_format_is_chosen_by_name_and_a_wrong_name_is_refused():
    assert "format" in logging_config(fmt="text")["formatters"]["text"]
    with pytest.raises(ValueError):
        logging_config(fmt="xml")


def test_a_task_run_eagerly_keeps_the_request_id_and_gives_it_back(records):
    from billing_centre.tasks import ping

    with request_context("req-eager-0001"):
        ping.delay("hi")
        assert request_id() == "req-eager-0001"
    (ran,) = [r for r in records.records if r.name == "billing_centre.tasks"]
    assert ran.request_id == "req-eager-0001"
    assert ran.task_name == "billing_centre.ping"
    assert request_id() is None


REDIS_URL = os.environ.get("REDIS_URL", "")


@pytest.mark.needs_redis
@pytest.mark.skipif(not REDIS_URL, reason="REDIS_URL is not set: no broker to publish to")
def test_a_task_queued_on_commit_carries_the_request_id_in_its_headers(django_capture_on_commit_callbacks):
    """Published to the real broker (no worker): the message in Redis has the request's id."""
    import redis

    from billing_centre.celery import app
    from billing_centre.tasks import ping
    from core.queue import enqueue_on_commit

    marker = f"on-commit-{uuid.uuid4().hex}"
    app.conf.task_always_eager = False  # tests/conftest.py restores it
    with request_context("req-commit-0001"), django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            enqueue_on_commit(ping, marker)
    client = redis.Redis.from_url(REDIS_URL)
    try:
        ours = []
        for raw in client.lrange("celery", 0, -1):
            message = json.loads(raw)
            if marker in str(message["headers"].get("argsrepr")):
                ours.append(message)
                client.lrem("celery", 0, raw)  # no worker should ever run it
    finally:
        client.close()
    assert ours, "the task was not published"
    assert ours[0]["headers"]["bc_request_id"] == "req-commit-0001"


@pytest.mark.needs_redis
@pytest.mark.needs_worker
@pytest.mark.skipif(not REDIS_URL, reason="REDIS_URL is not set: no broker for a real worker")
def test_a_real_worker_logs_json_with_the_request_id_of_the_caller(tmp_path):
    """The worker applies settings.LOGGING (JSON) and runs the task under the id from its headers."""
    from billing_centre.celery import app
    from billing_centre.tasks import ping
    from tests.workers import worker_start, worker_stop

    queue = f"bc-test-obs-{uuid.uuid4().hex[:12]}"
    log_path = tmp_path / "worker.log"
    env = {**os.environ, "REDIS_URL": REDIS_URL, "DJANGO_LOG_FORMAT": "json"}
    process = worker_start(queues=[queue], name=queue, env=env, log_path=log_path)
    try:
        app.conf.task_always_eager = False  # tests/conftest.py restores it
        marker = f"worker-{uuid.uuid4().hex}"
        with request_context("req-worker-0001"):
            result = ping.apply_async(args=[marker], queue=queue)
        try:
            assert result.get(timeout=60) == marker
        except Exception:
            pytest.fail(f"no result from the worker (alive: {process.poll() is None}):\n{log_path.read_text()}")
        result.forget()
    finally:
        worker_stop(process)

    lines = []
    for raw in log_path.read_text().splitlines():
        if raw.startswith("{"):
            lines.append(json.loads(raw))
    (ran,) = [line for line in lines if line["message"] == f"ping {marker}"]
    assert ran["request_id"] == "req-worker-0001"
    assert (ran["logger"], ran["level"], ran["task_name"]) == ("billing_centre.tasks", "INFO", "billing_centre.ping")
    assert "time" in ran
    # The worker's own records (Celery's "Task ... received/succeeded") are JSON too.
    assert any(line["logger"].startswith("celery") for line in lines)


def _answers_503(request):
    return HttpResponse("down", status=503)


urlpatterns = [path("down/", _answers_503, name="down")]  # this module is the URLconf of the test below


@pytest.mark.urls(__name__)
def test_a_5xx_is_logged_once_at_error_inside_the_request_context(client, records):
    """Django's handler would log it again after the middleware, without the request id."""
    client.get("/down/", HTTP_X_REQUEST_ID="req-down-0001")

    (line,) = records.named("billing_centre.request")
    assert (line.levelno, line.status, line.request_id) == (logging.ERROR, 503, "req-down-0001")
    assert records.named("django.request") == []
