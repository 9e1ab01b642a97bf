"""AutoPay pays a schedule's invoices as a batch: claimed together, then in chunks opened as
processing, charged one by one and settled together. A hard decline or a pause stops the charges
left (never sent, tried again later), a crash between the steps is reconciled, reconciliation
during a long batch never leads to a lost or double charge, and the queries do not grow with
the invoices beyond the gateway's own."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import AuditEvent
from payments import autopay
from payments.autopay import run as autopay_run
from payments.gateways import DeclineKind, set_gateway_override
from payments.gateways.base import ChargeResult
from payments.gateways.simulated import SimulatedGateway
from payments.models import (
    AutoPayAttempt,
    AutoPaySchedule,
    CreditApplication,
    Payment,
    PaymentStatus,
    SimulatedCharge,
)
from payments.services import payment_reconcile
from tests.accounts.factories import ShippingAccountFactory
from tests.invoices.factories import InvoiceFactory

from .conftest import CARD_EXPIRED, CARD_OK, card_method
from .test_autopay import SEOUL, at, attempts, issue, run, setup_autopay

pytestmark = pytest.mark.django_db

Outcome = AutoPayAttempt.Outcome
DUE = datetime.date(2026, 3, 25)


class HardDeclineOnCall(SimulatedGateway):
    """The simulated gateway, except that charge number ``n`` is declined hard (a card stopped meanwhile)."""

    def __init__(self, n: int):
        self.n = n
        self.calls = 0

    def charge(self, **kwargs):
        self.calls += 1
        if self.calls == self.n:
            return ChargeResult.declined("card_declined", DeclineKind.HARD, f"sim_declined_{self.calls}")
        return super().charge(**kwargs)


class PauseOnFirstCall(SimulatedGateway):
    """The simulated gateway; while the first charge is under way, a person pauses the schedule."""

    def __init__(self, user, schedule):
        self.user, self.schedule, self.calls = user, schedule, 0

    def charge(self, **kwargs):
        self.calls += 1
        if self.calls == 1:
            autopay.autopay_pause(actor=self.user, schedule=self.schedule)
        return super().charge(**kwargs)


@pytest.fixture
def gateway():
    yield lambda g: set_gateway_override(g) or g
    set_gateway_override(None)


def four_invoices(account):
    return [issue(account, f"INV00000030{n}", on=datetime.date(2026, 3, 5), due=DUE) for n in range(1, 5)]


def test_a_hard_decline_mid_batch_stops_the_charges_left_which_are_tried_again_after_resuming(
    admin_user, company, account, wallet_card, gateway
):
    schedule = setup_autopay(admin_user, account, wallet_card, days_before_due=0)
    first, second, third, fourth = four_invoices(account)
    stub = gateway(HardDeclineOnCall(2))

    counts = run(DUE)

    assert stub.calls == 2  # nothing was sent after the hard decline
    schedule.refresh_from_db()
    assert schedule.status == AutoPaySchedule.Status.PAUSED
    assert [a.outcome for a in attempts(first)] == [Outcome.PAID]
    [declined] = attempts(second)
    assert (declined.outcome, declined.decline_code) == (Outcome.FAILED_HARD, "card_declined")
    for invoice in (third, fourth):
        [left] = attempts(invoice)
        assert (left.outcome, left.decline_code) == (Outcome.FAILED_SOFT, "not_sent")
        assert left.payment.status == PaymentStatus.FAILED
        assert left.payment.failure_code == "not_sent"
        invoice.refresh_from_db()
        assert invoice.amount_paid == 0
    assert counts[Outcome.PAID] == 1 and counts[Outcome.FAILED_HARD] == 1 and counts[Outcome.FAILED_SOFT] == 2
    # One notice, for the decline; the charges never sent are not news (receipts have a PDF attached).
    [notice] = [m for m in mail.outbox if not m.attachments]
    assert "INV000000302" in notice.subject
    assert AuditEvent.objects.filter(action="autopay.paused", data__reason="hard_decline").count() == 1

    gateway(None)
    with at(DUE + datetime.timedelta(days=1)):
        autopay.autopay_resume(actor=admin_user, schedule=schedule)
    run(DUE + datetime.timedelta(days=1))

    for invoice in (first, second, third, fourth):
        invoice.refresh_from_db()
        assert invoice.balance == 0
    assert [a.outcome for a in attempts(third)] == [Outcome.FAILED_SOFT, Outcome.PAID]
    assert Payment.objects.filter(status=PaymentStatus.SUCCEEDED).count() == 4


def test_a_card_declined_hard_is_charged_once_per_run_not_once_per_invoice(admin_user, company, account):
    card = card_method(company, CARD_EXPIRED)
    setup_autopay(admin_user, account, card, days_before_due=0)
    invoices = four_invoices(account)

    run(DUE)

    assert SimulatedCharge.objects.count() == 1
    outcomes = sorted(a.outcome for inv in invoices for a in attempts(inv))
    assert outcomes == [Outcome.FAILED_HARD] + [Outcome.FAILED_SOFT] * 3


def test_a_pause_made_while_the_run_charges_stops_it_at_the_next_chunk(
    admin_user, account, wallet_card, gateway, monkeypatch
):
    monkeypatch.setattr(autopay_run, "CHUNK", 2)
    schedule = setup_autopay(admin_user, account, wallet_card, days_before_due=0)
    invoices = four_invoices(account)
    stub = gateway(PauseOnFirstCall(admin_user, schedule))

    run(DUE)

    assert stub.calls == 2  # the status is looked at again before the next chunk of two
    outcomes = [[a.outcome for a in attempts(inv)] for inv in invoices]
    # The invoices the run did not reach are not attempted today (as if the run had stopped there).
    assert outcomes == [[Outcome.PAID], [Outcome.PAID], [], []]
    assert Payment.objects.count() == 2
    assert not [m for m in mail.outbox if not m.attachments]  # no decline notices: nothing was declined


def test_a_pause_right_after_the_claim_charges_nothing(admin_user, account, wallet_card, monkeypatch):
    schedule = setup_autopay(admin_user, account, wallet_card, days_before_due=0)
    invoices = four_invoices(account)
    claim = autopay_run._claim

    def claim_then_pause(*args, **kwargs):
        claimed = claim(*args, **kwargs)
        autopay.autopay_pause(actor=admin_user, schedule=schedule)
        return claimed

    monkeypatch.setattr(autopay_run, "_claim", claim_then_pause)
    run(DUE)

    assert not SimulatedCharge.objects.exists()
    assert not Payment.objects.exists()
    assert [attempts(inv) for inv in invoices] == [[], [], [], []]


def test_a_hard_decline_in_one_chunk_leaves_later_chunks_unattempted(
    admin_user, company, account, wallet_card, gateway, monkeypatch
):
    monkeypatch.setattr(autopay_run, "CHUNK", 2)
    schedule = setup_autopay(admin_user, account, wallet_card, days_before_due=0)
    first, second, third, fourth = four_invoices(account)
    stub = gateway(HardDeclineOnCall(1))

    run(DUE)

    assert stub.calls == 1
    assert [a.outcome for a in attempts(first)] == [Outcome.FAILED_HARD]
    assert [(a.outcome, a.decline_code) for a in attempts(second)] == [(Outcome.FAILED_SOFT, "not_sent")]
    assert attempts(third) == [] and attempts(fourth) == []  # never claimed a payment: no noise in the history
    assert Payment.objects.count() == 2

    gateway(None)
    with at(DUE + datetime.timedelta(days=1)):
        autopay.autopay_resume(actor=admin_user, schedule=schedule)
    run(DUE + datetime.timedelta(days=1))
    for invoice in (second, third, fourth):
        invoice.refresh_from_db()
        assert invoice.balance == 0


class ReconcileAfterFirstCharge(SimulatedGateway):
    """The simulated gateway; right after the first charge, 20 minutes pass and reconciliation
    runs (a long batch): the payments opened but not yet sent look like payments never sent."""

    def __init__(self, clock):
        self.clock, self.calls = clock, 0

    def charge(self, **kwargs):
        self.calls += 1
        result = super().charge(**kwargs)
        if self.calls == 1:
            self.clock.shift(datetime.timedelta(minutes=20))
            payment_reconcile()
        return result


def test_reconciliation_during_a_long_batch_never_leads_to_a_charge_lost_or_taken_twice(
    admin_user, account, wallet_card, gateway
):
    setup_autopay(admin_user, account, wallet_card, days_before_due=0)
    invoices = four_invoices(account)

    start = datetime.datetime.combine(DUE, datetime.time(9), tzinfo=SEOUL)
    with time_machine.travel(start, tick=False) as clock:
        stub = gateway(ReconcileAfterFirstCharge(clock))
        autopay.autopay_schedule_run(schedule_id=AutoPaySchedule.objects.get().id, today=DUE)

    # The first charge was applied once (by reconciliation or the batch, whichever came first);
    # the others, failed as never sent meanwhile, were not charged afterwards.
    assert stub.calls == 1
    assert SimulatedCharge.objects.count() == 1
    invoices[0].refresh_from_db()
    assert invoices[0].balance == 0
    assert [a.outcome for a in attempts(invoices[0])] == [Outcome.PAID]
    for invoice in invoices[1:]:
        [attempt] = attempts(invoice)
        assert (attempt.outcome, attempt.decline_code) == (Outcome.FAILED_SOFT, "not_sent")
        invoice.refresh_from_db()
        assert invoice.amount_paid == 0
    for payment in Payment.objects.all():
        charged = SimulatedCharge.objects.filter(idempotency_key=payment.idempotency_key).exists()
        assert charged == (payment.status == PaymentStatus.SUCCEEDED)

    gateway(None)
    run(DUE + datetime.timedelta(days=1))  # tried again the next day, once each
    assert SimulatedCharge.objects.count() == 4
    for invoice in invoices:
        invoice.refresh_from_db()
        assert invoice.balance == 0


def test_charges_never_sent_do_not_count_as_tries(admin_user, account, wallet_card):
    schedule = setup_autopay(admin_user, account, wallet_card, days_before_due=0)
    invoice = issue(account, "INV000000310", on=datetime.date(2026, 3, 5), due=DUE)
    for attempt_no in range(1, 6):
        AutoPayAttempt.objects.create(
            schedule=schedule,
            invoice=invoice,
            attempt_no=attempt_no,
            run_on=DUE - datetime.timedelta(days=10 - attempt_no),
            idempotency_key=autopay.attempt_key(schedule.id, invoice.id, attempt_no),
            outcome=Outcome.FAILED_SOFT,
            decline_code="not_sent",
        )

    run(DUE)

    invoice.refresh_from_db()
    assert invoice.balance == 0


@pytest.mark.django_db(transaction=True)
def test_a_crash_after_the_claim_leaves_processing_payments_that_reconciliation_settles(
    admin_user, account, wallet_card, monkeypatch
):
    setup_autopay(admin_user, account, wallet_card, days_before_due=0)
    invoice = issue(account, "INV000000320", on=datetime.date(2026, 3, 5), due=DUE)

    class Crash(BaseException):
        pass

    def crash(payment, source):
        assert not connection.in_atomic_block  # the payment is committed before the gateway is asked
        raise Crash

    monkeypatch.setattr(autopay_run, "payment_charge", crash)
    with pytest.raises(Crash), at(DUE):
        autopay.autopay_schedule_run(schedule_id=AutoPaySchedule.objects.get().id, today=DUE)

    [attempt] = attempts(invoice)
    assert attempt.outcome == Outcome.PROCESSING
    assert attempt.payment.status == PaymentStatus.PROCESSING  # committed before the gateway was asked
    assert not SimulatedCharge.objects.exists()

    monkeypatch.undo()
    run(DUE)  # the same day: the claimed invoice is left alone
    assert SimulatedCharge.objects.count() == 0
    with at(DUE, hour=9):
        payment_reconcile()  # the gateway never heard of it: failed as never sent
    run(DUE + datetime.timedelta(days=1))

    invoice.refresh_from_db()
    assert invoice.balance == 0
    assert [(a.outcome, a.decline_code) for a in attempts(invoice)] == [
        (Outcome.FAILED_SOFT, "not_sent"),
        (Outcome.PAID, ""),
    ]


def test_the_queries_of_a_run_do_not_grow_with_its_invoices_beyond_the_gateways_own(admin_user, company, monkeypatch):
    """10, 20 and 30 invoices in chunks of 10: each chunk costs the same few statements (plus one
    per charge, marking it sent), whatever the invoices; only the simulated gateway's grow."""
    monkeypatch.setattr(autopay_run, "CHUNK", 10)
    card = card_method(company, CARD_OK)
    measured = {}
    for size in (10, 20, 30):
        account = ShippingAccountFactory(company=company)
        schedule = setup_autopay(admin_user, account, card, days_before_due=0)
        for n in range(size):
            issue(account, f"Q{size:02d}{n:09d}", on=datetime.date(2026, 3, 5), due=DUE, total=str(10000 + n))
        with at(DUE), CaptureQueriesContext(connection) as captured:
            counts = autopay.autopay_schedule_run(schedule_id=schedule.id, today=DUE)
        assert counts[Outcome.PAID] == size
        ours = [
            q["sql"]
            for q in captured.captured_queries
            if "simulatedcharge" not in q["sql"] and "SAVEPOINT" not in q["sql"]
        ]
        measured[size] = len(ours)

    per_chunk = measured[20] - measured[10]
    assert measured[30] - measured[20] == per_chunk  # the same for every chunk of 10
    assert per_chunk <= 10 + 25  # one "sent" mark per charge, and at most 25 per chunk
    assert Payment.objects.filter(status=PaymentStatus.SUCCEEDED).count() == 60


def test_a_credit_is_used_once_across_the_batch_in_due_date_order(admin_user, account, wallet_card):
    """A ₩3,000 credit pays the first invoice (₩2,000) and ₩1,000 of the second, never ₩3,000 of each."""
    credit = InvoiceFactory(
        account=account,
        number="INVCREDIT330",
        total=Decimal("10000"),
        amount_paid=Decimal("13000"),
        invoice_date=datetime.date(2026, 2, 1),
        due_date=datetime.date(2026, 2, 20),
    )
    setup_autopay(admin_user, account, wallet_card, days_before_due=0)
    invoices = [
        issue(account, f"INV00000033{n}", on=datetime.date(2026, 3, 5), due=DUE, total=total)
        for n, total in enumerate(("2000", "2500", "50000"), start=1)
    ]

    run(DUE)

    credit.refresh_from_db()
    assert credit.balance == 0
    assert [(c.target_invoice.number, c.amount) for c in CreditApplication.objects.order_by("id")] == [
        ("INV000000331", Decimal("2000")),
        ("INV000000332", Decimal("1000")),
    ]
    assert sorted(p.amount for p in Payment.objects.all()) == [Decimal("1500"), Decimal("50000")]
    assert SimulatedCharge.objects.count() == 2
    for invoice in invoices:
        invoice.refresh_from_db()
        assert invoice.balance == 0
        [attempt] = attempts(invoice)
        assert attempt.outcome == Outcome.PAID
    assert attempts(invoices[0])[0].payment is None  # the credit covered it all: nothing charged
