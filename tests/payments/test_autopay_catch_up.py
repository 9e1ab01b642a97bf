"""The daily jobs catch up: a day without a run (beat down, a worker lost) is done by the next run,
exactly once: AutoPay (both timings), scheduled one-time payments, late fees, expiry reminders."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core import mail
from django.test import TestCase

from invoices.fees import fees_assess
from invoices.models import LineKind
from payments import autopay
from payments.models import AutoPayAttempt, AutoPaySchedule, Payment, PaymentStatus, SimulatedCharge
from payments.services import PaymentSource, payment_create
from tests.accounts.factories import ShippingAccountFactory
from tests.invoices.factories import InvoiceFactory

from .conftest import card_method
from .test_autopay import at, attempts, issue, run, setup_autopay

pytestmark = pytest.mark.django_db

Outcome = AutoPayAttempt.Outcome
WEEKDAY = {"timing": AutoPaySchedule.Timing.WEEKDAY, "weekday": 4, "days_before_due": None}  # Fridays
TUESDAY = datetime.date(2026, 3, 3)
FRIDAY = datetime.date(2026, 3, 6)
SATURDAY = datetime.date(2026, 3, 7)


def paid_once(invoice) -> None:
    invoice.refresh_from_db()
    assert invoice.balance == 0
    [payment] = Payment.objects.filter(allocations__invoice=invoice)
    assert payment.status == PaymentStatus.SUCCEEDED
    assert SimulatedCharge.objects.filter(idempotency_key=payment.idempotency_key).count() == 1


def test_a_weekday_schedule_whose_weekday_was_missed_pays_the_next_day(admin_user, account, wallet_card):
    setup_autopay(admin_user, account, wallet_card, **WEEKDAY)
    invoice = issue(account, "INV000000701", on=TUESDAY, due=datetime.date(2026, 4, 2))

    run(datetime.date(2026, 3, 5))  # Thursday: not yet
    assert not attempts(invoice)
    # Friday: no run (beat was down).
    run(SATURDAY)

    paid_once(invoice)
    [attempt] = attempts(invoice)
    assert (attempt.run_on, attempt.outcome) == (SATURDAY, Outcome.PAID)


def test_a_missed_days_before_due_run_is_paid_by_the_next_run(admin_user, account, wallet_card):
    setup_autopay(admin_user, account, wallet_card, days_before_due=3)
    invoice = issue(account, "INV000000702", on=TUESDAY, due=datetime.date(2026, 3, 25))

    run(datetime.date(2026, 3, 21))
    # 22 March, the pay day: no run.
    run(datetime.date(2026, 3, 23))

    paid_once(invoice)
    assert [a.run_on for a in attempts(invoice)] == [datetime.date(2026, 3, 23)]


def test_runs_after_a_missed_day_pay_nothing_twice(admin_user, account, wallet_card):
    setup_autopay(admin_user, account, wallet_card, **WEEKDAY)
    invoices = [issue(account, f"INV00000071{n}", on=TUESDAY, due=datetime.date(2026, 4, 2)) for n in range(3)]

    run(SATURDAY)
    run(SATURDAY)  # a second beat, or a redelivered message
    run(SATURDAY + datetime.timedelta(days=1))
    run(datetime.date(2026, 3, 13))  # the next Friday

    for invoice in invoices:
        paid_once(invoice)
    assert SimulatedCharge.objects.count() == 3
    assert AutoPayAttempt.objects.count() == 3


def test_the_preview_of_a_missed_weekday_says_the_next_run_pays_it(admin_user, account, wallet_card):
    schedule = setup_autopay(admin_user, account, wallet_card, **WEEKDAY)
    invoice = issue(account, "INV000000720", on=TUESDAY, due=datetime.date(2026, 4, 2))

    preview = autopay.autopay_preview(schedule, today=SATURDAY)

    [item] = preview.items
    assert (item.invoice, item.action, item.run_date) == (invoice, "pay", SATURDAY)
    assert preview.next_run == SATURDAY


def test_a_soft_decline_on_a_weekday_schedule_is_tried_again_by_the_next_run(admin_user, company, account):
    from .conftest import CARD_INSUFFICIENT

    card = card_method(company, CARD_INSUFFICIENT)
    setup_autopay(admin_user, account, card, **WEEKDAY)
    invoice = issue(account, "INV000000721", on=TUESDAY, due=datetime.date(2026, 4, 2))

    run(FRIDAY)
    run(SATURDAY)

    assert [(a.run_on, a.attempt_no, a.outcome) for a in attempts(invoice)] == [
        (FRIDAY, 1, Outcome.FAILED_SOFT),
        (SATURDAY, 2, Outcome.FAILED_SOFT),
    ]


def test_a_scheduled_one_time_payment_whose_day_was_missed_is_paid_by_the_next_run(admin_user, account, wallet_card):
    invoice = issue(account, "INV000000730", on=TUESDAY, due=datetime.date(2026, 3, 25))
    with at(TUESDAY, hour=10):
        [payment] = payment_create(
            actor=admin_user,
            invoice_ids=[invoice.id],
            source=PaymentSource.from_method(wallet_card),
            idempotency_key="scheduled-missed",
            scheduled_for=FRIDAY,
        ).payments

    run(SATURDAY)  # no run on Friday
    run(SATURDAY)

    paid_once(invoice)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED


# --- Fees and reminders --------------------------------------------------------------------------


def test_late_fees_of_a_missed_day_are_posted_by_the_next_run_once():
    account = ShippingAccountFactory(number="LATE01")
    due = datetime.date(2026, 3, 2)
    invoice = InvoiceFactory(
        account=account, invoice_date=datetime.date(2026, 2, 20), due_date=due, total=Decimal("100000")
    )
    fee_day = due + datetime.timedelta(days=14)

    with at(fee_day - datetime.timedelta(days=1)):
        assert fees_assess()["late_fee"] == 0
    # The fee day itself: no run.
    with at(fee_day + datetime.timedelta(days=1)):
        assert fees_assess()["late_fee"] == 1
        assert fees_assess()["late_fee"] == 0  # a second run the same day
    with at(fee_day + datetime.timedelta(days=2)):
        assert fees_assess()["late_fee"] == 0

    assert invoice.lines.filter(kind=LineKind.LATE_FEE).count() == 1


def test_an_expiry_reminder_of_a_missed_day_is_sent_by_the_next_run_once(admin_user, company, account):
    card = card_method(company, exp=(4, 2026))
    setup_autopay(admin_user, account, card)

    # 31 March (30 days before the card's last day): no run.
    with at(datetime.date(2026, 4, 1)), TestCase.captureOnCommitCallbacks(execute=True):
        assert autopay.card_expiry_reminders_send() == 1
        assert autopay.card_expiry_reminders_send() == 0
    with at(datetime.date(2026, 4, 2)):
        assert autopay.card_expiry_reminders_send() == 0

    assert len(mail.outbox) == 1
