"""Two AutoPay runs at once pay each due invoice exactly once: guaranteed by the database.

The first test races two runs in threads of this process (PostgreSQL row locks and unique
constraints). The second starts two real Celery workers on the Redis of REDIS_URL, both reading
the test database, and sends them an AutoPay run each at the same moment.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection, connections
from django.utils import timezone

from accounts.models import JobRun, Role
from payments import autopay
from payments.models import AutoPayAttempt, AutoPaySchedule, Payment, PaymentStatus, SimulatedCharge
from tests.accounts.factories import CompanyFactory, MembershipFactory, ShippingAccountFactory, UserFactory
from tests.invoices.factories import InvoiceFactory
from tests.workers import test_database_url, worker_start, worker_stop

from .conftest import card_method

BASE_DIR = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("REDIS_URL", "")

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.needs_postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite has no row locks and a worker cannot share the test database: run with DATABASE_URL=postgres://…",
    ),
]


@pytest.fixture(autouse=True)
def _celery_join_flag():
    """Eager tasks run in two threads at once can leave Celery's process-wide "inside a task" flag
    set (each ``apply`` saves and restores it); put it back so later tests may wait for results."""
    from celery._state import _set_task_join_will_block, task_join_will_block

    before = task_join_will_block()
    yield
    _set_task_join_will_block(before)


def due_today(schedules: int = 4, invoices_each: int = 3) -> list:
    """Companies with AutoPay due today (0 days before due) on several invoices each."""
    today = timezone.localdate()
    invoices = []
    for index in range(schedules):
        company = CompanyFactory()
        user = UserFactory(username=f"ap-admin-{index}")
        MembershipFactory(user=user, company=company, role=Role.ADMINISTRATOR)
        account = ShippingAccountFactory(company=company)
        card = card_method(company)
        autopay.autopay_create(
            actor=user,
            billable=account,
            method=card,
            amount_mode=AutoPaySchedule.AmountMode.FULL,
            limit_amount=None,
            timing=AutoPaySchedule.Timing.DAYS_BEFORE_DUE,
            days_before_due=0,
            weekday=None,
            until_date=None,
            consent=True,
        )
        for n in range(invoices_each):
            invoices.append(
                InvoiceFactory(
                    account=account,
                    invoice_date=today,
                    due_date=today,
                    total=Decimal(10000 + 1000 * n),
                )
            )
    return invoices


def assert_each_paid_once(invoices) -> None:
    assert Payment.objects.count() == len(invoices)
    assert SimulatedCharge.objects.count() == len(invoices)
    assert AutoPayAttempt.objects.count() == len(invoices)
    assert set(AutoPayAttempt.objects.values_list("outcome", flat=True)) == {AutoPayAttempt.Outcome.PAID}
    for invoice in invoices:
        invoice.refresh_from_db()
        assert invoice.amount_paid == invoice.total, invoice.number
        assert Payment.objects.filter(allocations__invoice=invoice, status=PaymentStatus.SUCCEEDED).count() == 1


def test_two_runs_in_threads_at_once_pay_each_invoice_once(settings):
    settings.PAYMENT_GATEWAY = "simulated"
    invoices = due_today()
    barrier = threading.Barrier(2)
    errors: list = []

    def run():
        try:
            barrier.wait()
            autopay.autopay_run()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert_each_paid_once(invoices)


# --- A real worker pair on Redis ----------------------------------------------------------------


def _redis_answers(url: str) -> bool:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # noqa: BLE001
        return False


@pytest.fixture
def two_workers(tmp_path):
    """Two `celery worker --pool=solo` processes on one fresh queue, reading the test database."""
    queue = f"bc-autopay-{uuid.uuid4().hex[:10]}"
    env = {
        **os.environ,
        "REDIS_URL": REDIS_URL,
        "DATABASE_URL": test_database_url(),
        "STRIPE_SECRET_KEY": "",
    }
    processes, logs = [], []
    for index in range(2):
        log_path = tmp_path / f"worker{index}.log"
        logs.append(log_path)
        processes.append(worker_start(queues=[queue], name=f"{queue}-{index}", env=env, log_path=log_path))
    try:
        yield queue, processes, logs
    finally:
        for process in processes:
            process.terminate()  # all at once: their warm shutdowns overlap
        for process in processes:
            worker_stop(process)


@pytest.mark.needs_redis
@pytest.mark.needs_worker
@pytest.mark.skipif(not REDIS_URL, reason="REDIS_URL is not set: no broker for real workers")
@pytest.mark.skipif(bool(REDIS_URL) and not _redis_answers(REDIS_URL), reason=f"Redis at {REDIS_URL} does not answer")
def test_two_autopay_runs_on_two_real_workers_pay_each_due_invoice_exactly_once(two_workers):
    from billing_centre.celery import app
    from payments.tasks import autopay_run_task

    queue, processes, logs = two_workers
    invoices = due_today(schedules=6, invoices_each=3)
    app.conf.task_always_eager = False
    assert app.conf.broker_url.startswith("redis://")

    # Both workers are up before the two runs are sent, so each takes one at the same moment: a
    # worker that never got ready would leave both runs to the other, one after the other, and
    # "exactly once" would be proven for no race at all.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not all("ready." in log.read_text() for log in logs):
        if not all(process.poll() is None for process in processes):
            break
        time.sleep(0.2)
    ready = ["ready." in log.read_text() for log in logs]
    assert ready == [True, True], f"workers ready: {ready}\n" + "\n".join(log.read_text()[-3000:] for log in logs)
    results = [autopay_run_task.apply_async(kwargs={"trigger": "test"}, queue=queue) for _ in range(2)]
    try:
        counts = [result.get(timeout=120, disable_sync_subtasks=False) for result in results]
    except Exception as exc:  # noqa: BLE001 - show what the workers said
        alive = [p.poll() is None for p in processes]
        pytest.fail(
            f"no result from the workers ({type(exc).__name__}: {exc}; alive: {alive}):\n"
            + "\n".join(log.read_text()[-6000:] for log in logs)
        )
    finally:
        for result in results:
            result.forget()

    assert sum(c.get("paid", 0) for c in counts) == len(invoices)
    assert_each_paid_once(invoices)
    runs = JobRun.objects.filter(job="autopay_run", trigger="test")
    assert runs.count() == 2
    assert set(runs.values_list("status", flat=True)) == {JobRun.Status.SUCCEEDED}
    assert all(run.finished_at >= run.started_at for run in runs)
    # Each worker took one of the two runs (acks_late, prefetch 1, one task at a time per worker).
    assert ["payments.autopay_run" in log.read_text() for log in logs] == [True, True]
