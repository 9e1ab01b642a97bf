"""A run whose worker died in the middle of a chunk: once its lease has expired, the next recorded
run (the redelivered task, a catch-up, tomorrow's run) finishes its work the same day; nothing is
charged twice, and while the lease runs nobody touches it. In one process: the worker's death is
an exception the gateway raises (the fault suite kills a real worker, tests/faults)."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.test import TestCase

from accounts.models import JobRun
from payments import autopay
from payments.gateways import set_gateway_override
from payments.gateways.simulated import SimulatedGateway
from payments.models import AutoPayAttempt, AutoPaySchedule, Payment, PaymentStatus, SimulatedCharge
from payments.services import payment_reconcile
from payments.tasks import autopay_run_task

from .test_autopay import SEOUL, issue, setup_autopay

pytestmark = pytest.mark.django_db(transaction=True)

Outcome = AutoPayAttempt.Outcome
DUE = datetime.date(2026, 3, 25)
START = datetime.datetime.combine(DUE, datetime.time(7), tzinfo=SEOUL)
INVOICES = autopay.CHUNK + 2  # a second chunk the dead run never reached


class WorkerKilled(BaseException):
    """The process dies: nothing after it runs, nothing is recorded."""


class DiesOnSecondCharge(SimulatedGateway):
    def __init__(self):
        self.calls = 0

    def charge(self, **kwargs):
        self.calls += 1
        if self.calls == 2:
            raise WorkerKilled  # sent (marked), never reached the gateway
        return super().charge(**kwargs)


@pytest.fixture
def dead_run(admin_user, account, wallet_card):
    """A run that claimed the schedule, charged one payment and died on the second, at 07:00."""
    setup_autopay(admin_user, account, wallet_card, days_before_due=0)
    invoices = [issue(account, f"INV0000008{n:02d}", on=datetime.date(2026, 3, 5), due=DUE) for n in range(INVOICES)]
    with time_machine.travel(START, tick=False):
        record = JobRun.objects.create(job="autopay_run", trigger="beat", started_at=START)
        JobRun.objects.filter(pk=record.pk).update(lease_until=START + datetime.timedelta(minutes=10))
        set_gateway_override(DiesOnSecondCharge())
        try:
            with pytest.raises(WorkerKilled):
                autopay.autopay_schedule_run(schedule_id=AutoPaySchedule.objects.get().id, today=DUE)
        finally:
            set_gateway_override(None)
    yield record, invoices
    set_gateway_override(None)


def run_task(when: datetime.datetime, trigger: str = "catch_up") -> dict:
    with time_machine.travel(when, tick=False), TestCase.captureOnCommitCallbacks(execute=True):
        return autopay_run_task.delay(trigger=trigger).get()


def charges(invoice) -> int:
    keys = Payment.objects.filter(allocations__invoice=invoice).values_list("idempotency_key", flat=True)
    return SimulatedCharge.objects.filter(idempotency_key__in=list(keys)).count()


def test_the_next_run_after_the_lease_finishes_a_dead_runs_work_the_same_day(dead_run):
    record, invoices = dead_run
    charged_first, in_flight, *rest = invoices
    assert SimulatedCharge.objects.count() == 1
    assert Payment.objects.filter(status=PaymentStatus.PROCESSING).count() == autopay.CHUNK

    counts = run_task(START + datetime.timedelta(minutes=11))

    for invoice in [charged_first, *rest]:
        invoice.refresh_from_db()
        assert invoice.balance == 0, invoice.number
        assert charges(invoice) == 1, invoice.number
        assert [a.outcome for a in AutoPayAttempt.objects.filter(invoice=invoice)] == [Outcome.PAID]
    record.refresh_from_db()
    assert record.status == JobRun.Status.ABANDONED
    assert counts["resumed"] == autopay.CHUNK  # its chunk; the claims it never reached were taken again
    # The charge in flight when the worker died is never sent again: reconciliation settles it.
    [payment] = Payment.objects.filter(allocations__invoice=in_flight)
    assert payment.status == PaymentStatus.PROCESSING
    assert charges(in_flight) == 0

    with time_machine.travel(START + datetime.timedelta(minutes=30), tick=False):
        payment_reconcile()  # unknown to the gateway after 15 minutes: never sent
    run_task(START + datetime.timedelta(days=1))

    in_flight.refresh_from_db()
    assert in_flight.balance == 0
    assert charges(in_flight) == 1
    assert SimulatedCharge.objects.count() == INVOICES


def test_no_run_touches_the_work_of_a_run_within_its_lease(dead_run):
    record, invoices = dead_run

    counts = run_task(START + datetime.timedelta(minutes=5))

    record.refresh_from_db()
    assert record.status == JobRun.Status.RUNNING
    assert "resumed" not in counts
    assert SimulatedCharge.objects.count() == 1
    assert Payment.objects.filter(status=PaymentStatus.SUCCEEDED).count() == 0


def test_a_dead_runs_work_for_a_schedule_paused_since_is_not_charged(dead_run, admin_user):
    record, invoices = dead_run
    with time_machine.travel(START + datetime.timedelta(minutes=8), tick=False):
        autopay.autopay_pause(actor=admin_user, schedule=AutoPaySchedule.objects.get())

    run_task(START + datetime.timedelta(minutes=11))

    # Only the charge the gateway had taken before the worker died is applied.
    assert SimulatedCharge.objects.count() == 1
    invoices[0].refresh_from_db()
    assert invoices[0].balance == 0
    unsent = Payment.objects.filter(status=PaymentStatus.FAILED, failure_code="not_sent")
    assert unsent.count() == autopay.CHUNK - 2
    assert not AutoPayAttempt.objects.filter(outcome=Outcome.PENDING).exists()


def test_the_watch_sends_an_abandoned_autopay_run_again_which_finishes_the_work(dead_run, settings):
    from accounts.jobs import jobs_watch

    settings.JOB_DEADLINES = {}
    settings.JOB_MAX_SILENCE = {}
    record, invoices = dead_run

    with time_machine.travel(START + datetime.timedelta(minutes=15), tick=False):
        with TestCase.captureOnCommitCallbacks(execute=True):
            jobs_watch()

    record.refresh_from_db()
    assert record.status == JobRun.Status.ABANDONED
    resumed = JobRun.objects.get(job="autopay_run", trigger="resume")
    assert resumed.status == JobRun.Status.SUCCEEDED
    for invoice in [invoices[0], *invoices[2:]]:
        invoice.refresh_from_db()
        assert invoice.balance == 0, invoice.number


class AnotherRunSendsTheSecondPayment(SimulatedGateway):
    """While this run's first charge is declined hard, another run (one taking over) sends the
    second payment: the gateway takes it, and that run has not recorded the answer yet."""

    def __init__(self):
        self.calls = 0

    def charge(self, **kwargs):
        from payments.gateways import DeclineKind
        from payments.gateways.base import ChargeResult
        from payments.services import PaymentSource, payment_charge

        self.calls += 1
        if self.calls == 1:
            second = Payment.objects.filter(status=PaymentStatus.PROCESSING, sent_at__isnull=True).order_by("id")[0]
            payment_charge(second, PaymentSource.from_method(second.method))
            return ChargeResult.declined("card_declined", DeclineKind.HARD, "sim_declined_1")
        return super().charge(**kwargs)


def test_a_payment_another_run_sent_is_never_failed_as_not_sent(admin_user, account, wallet_card):
    setup_autopay(admin_user, account, wallet_card, days_before_due=0)
    invoices = [issue(account, f"INV00000090{n}", on=datetime.date(2026, 3, 5), due=DUE) for n in range(3)]
    with time_machine.travel(START, tick=False):
        set_gateway_override(AnotherRunSendsTheSecondPayment())
        try:
            autopay.autopay_schedule_run(schedule_id=AutoPaySchedule.objects.get().id, today=DUE)
        finally:
            set_gateway_override(None)

    [charged] = SimulatedCharge.objects.all()
    sent_elsewhere = Payment.objects.get(idempotency_key=charged.idempotency_key)
    assert sent_elsewhere.status == PaymentStatus.PROCESSING  # that run (or reconciliation) settles it
    with time_machine.travel(START + datetime.timedelta(minutes=5), tick=False):
        payment_reconcile()
    sent_elsewhere.refresh_from_db()
    assert sent_elsewhere.status == PaymentStatus.SUCCEEDED
    assert Payment.objects.filter(status=PaymentStatus.FAILED, failure_code="not_sent").count() == 1
    for invoice in invoices:
        invoice.refresh_from_db()
    assert [invoice.balance == 0 for invoice in invoices] == [False, True, False]


class SlowGateway(SimulatedGateway):
    """Each charge takes a minute of the (frozen) clock: a slow gateway."""

    def __init__(self, traveller):
        self.traveller = traveller

    def charge(self, **kwargs):
        self.traveller.shift(datetime.timedelta(minutes=1))
        return super().charge(**kwargs)


def test_a_run_busy_with_scheduled_payments_keeps_its_lease_without_any_autopay_charge(
    admin_user, account, wallet_card, settings
):
    """Only scheduled one-time payments, each a slow charge: the run renews its lease as it goes,
    so the watch never takes it for a dead run (the lease used to be renewed only after an
    AutoPay charge)."""
    from accounts.jobs import job_run, job_runs_abandon
    from payments.services import PaymentSource, payment_create

    settings.JOB_LEASE_SECONDS = 240  # 4 minutes: the 6 charges below take 6
    invoices = [issue(account, f"INV0000009{n:02d}", on=datetime.date(2026, 3, 5), due=DUE) for n in range(6)]
    with time_machine.travel(START - datetime.timedelta(days=2), tick=False):
        for invoice in invoices:
            payment_create(
                actor=admin_user,
                invoice_ids=[invoice.id],
                source=PaymentSource.from_method(wallet_card),
                idempotency_key=f"scheduled-{invoice.number}",
                scheduled_for=DUE,
            )

    with time_machine.travel(START, tick=False) as traveller:
        set_gateway_override(SlowGateway(traveller))
        try:
            with job_run("autopay_run", trigger="beat") as run:
                autopay.autopay_run(today=DUE, recorder=run)
                # The watch looks in at the end of the run: the lease is still the run's.
                assert job_runs_abandon() == []
        finally:
            set_gateway_override(None)

    record = JobRun.objects.get(pk=run.record.pk)
    assert record.status == JobRun.Status.SUCCEEDED
    assert record.lease_until > START + datetime.timedelta(minutes=5)
    assert Payment.objects.filter(status=PaymentStatus.SUCCEEDED).count() == 6
