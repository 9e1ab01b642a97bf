"""A worker killed (SIGKILL) in the middle of an AutoPay chunk: a second worker finishes the run;
no invoice is paid twice, none is skipped.

The offline gateway is slowed down (``SIMULATED_GATEWAY_LATENCY``) so that the first worker is
stopped while a chunk is charging: some payments succeeded and were recorded, some were charged
at the gateway but not recorded, some were opened but never sent, and later chunks and schedules
were not reached at all. The dead run's lease (``JOB_LEASE_SECONDS``) is short so the test need not
wait ten minutes for it to expire.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.test import TestCase
from django.utils import timezone

from accounts.models import JobRun, Membership, Role
from payments import autopay
from payments.models import AutoPaySchedule, Payment, PaymentStatus, SimulatedCharge
from payments.services import payment_reconcile
from tests.accounts.factories import CompanyFactory, MembershipFactory, ShippingAccountFactory, UserFactory
from tests.invoices.factories import InvoiceFactory
from tests.payments.conftest import card_method
from tests.processes import wait_until

# Real workers (start_worker) on a private redis-server, reading the PostgreSQL test database.
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.needs_postgres,
    pytest.mark.needs_redis,
    pytest.mark.needs_worker,
]

SCHEDULES = 4
INVOICES_EACH = 50  # two chunks of 25 per schedule: 200 invoices


def due_today() -> list:
    today = timezone.localdate()
    invoices = []
    for index in range(SCHEDULES):
        company = CompanyFactory()
        user = UserFactory(username=f"fault-ap-{index}")
        MembershipFactory(user=user, company=company, role=Role.ADMINISTRATOR)
        account = ShippingAccountFactory(company=company)
        autopay.autopay_create(
            actor=user,
            billable=account,
            method=card_method(company),
            amount_mode=AutoPaySchedule.AmountMode.FULL,
            limit_amount=None,
            timing=AutoPaySchedule.Timing.DAYS_BEFORE_DUE,
            days_before_due=0,
            weekday=None,
            until_date=None,
            consent=True,
        )
        invoices += [
            InvoiceFactory(account=account, invoice_date=today, due_date=today, total=Decimal(10000 + 100 * n))
            for n in range(INVOICES_EACH)
        ]
    # No one to e-mail: the receipt queued for each payment returns at once (no PDF is rendered).
    AutoPaySchedule.objects.update(created_by=None)
    Membership.objects.all().delete()
    return invoices


def succeeded() -> int:
    return Payment.objects.filter(status=PaymentStatus.SUCCEEDED).count()


def test_a_worker_killed_mid_chunk_leaves_a_run_that_a_second_worker_finishes_paying_each_invoice_once(
    start_worker,
):
    from payments.tasks import autopay_run_task

    invoices = due_today()
    first = start_worker(extra_env={"SIMULATED_GATEWAY_LATENCY": "0.05", "JOB_LEASE_SECONDS": "3"})
    autopay_run_task.apply_async(kwargs={"trigger": "beat"})

    # Mid-chunk: a chunk has been recorded, and the gateway has charges the run has not recorded yet.
    wait_until(
        lambda: 0 < succeeded() < SimulatedCharge.objects.count(),
        timeout=120,
        message="the first worker to be charging a chunk",
    )
    first.kill()
    assert 0 < succeeded() < len(invoices)
    [dead_run] = JobRun.objects.filter(job="autopay_run")
    assert dead_run.status == JobRun.Status.RUNNING
    wait_until(
        lambda: JobRun.objects.get(pk=dead_run.pk).lease_until < timezone.now(),
        timeout=30,
        message="the dead run's lease to expire",
    )

    second = start_worker()
    result = autopay_run_task.apply_async(kwargs={"trigger": "catch_up"})
    try:
        counts = result.get(timeout=180, disable_sync_subtasks=False)
    except Exception as exc:  # noqa: BLE001 - show what the worker said
        pytest.fail(f"no result from the second worker ({type(exc).__name__}: {exc}):\n{second.log()[-6000:]}")
    finally:
        result.forget()

    dead_run.refresh_from_db()
    assert dead_run.status == JobRun.Status.ABANDONED
    assert JobRun.objects.get(job="autopay_run", trigger="catch_up").status == JobRun.Status.SUCCEEDED

    # The one charge that can be in flight when a worker dies (sent, the gateway never got it) is
    # not sent again: reconciliation fails it as never sent after 15 minutes and the next day's run
    # pays it. Any other invoice was paid by the second worker, the same day.
    in_flight = list(Payment.objects.filter(status=PaymentStatus.PROCESSING))
    assert len(in_flight) <= 1
    for payment in in_flight:
        assert payment.sent_at is not None
        assert not SimulatedCharge.objects.filter(idempotency_key=payment.idempotency_key).exists()
    if in_flight:
        later = timezone.now() + datetime.timedelta(minutes=16)
        with time_machine.travel(later, tick=False):
            payment_reconcile()
        with time_machine.travel(later + datetime.timedelta(days=1), tick=False):
            with TestCase.captureOnCommitCallbacks(execute=True):
                autopay.autopay_run()

    for invoice in invoices:
        invoice.refresh_from_db()
        assert invoice.balance == 0, invoice.number
        [payment] = Payment.objects.filter(allocations__invoice=invoice, status=PaymentStatus.SUCCEEDED)
        assert SimulatedCharge.objects.filter(idempotency_key=payment.idempotency_key).count() == 1
    assert SimulatedCharge.objects.filter(outcome="succeeded").count() == len(invoices)
    assert not Payment.objects.filter(status=PaymentStatus.PROCESSING).exists()
    assert counts["resumed"] > 0  # the dead run's chunk was finished by the second worker
