"""AutoPay notices reach the payers once, even when the broker or the mail server was down when
the run committed (issue 13: "the same rule for every job that matters ... receipts and notices").

The attempt carries ``notice_due`` from the transaction that decided it; the notice task marks
``notice_sent_at``; a sweep (beat, every 5 minutes) queues again what is due and not sent."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core import mail

from payments import autopay
from payments.models import AutoPayAttempt, AutoPaySchedule

from .conftest import CARD_INSUFFICIENT, card_method
from .test_autopay import at, issue, run, setup_autopay

pytestmark = pytest.mark.django_db

Outcome = AutoPayAttempt.Outcome
DUE = datetime.date(2026, 3, 25)


def over_limit(admin_user, account, wallet_card):
    setup_autopay(
        admin_user,
        account,
        wallet_card,
        amount_mode=AutoPaySchedule.AmountMode.UP_TO_LIMIT,
        limit_amount=Decimal("60000"),
        days_before_due=0,
    )
    return issue(account, "INV000000408", on=datetime.date(2026, 3, 5), due=DUE, total="61000")


def notices(number: str) -> list:
    return [m for m in mail.outbox if number in m.subject]


def test_a_notice_is_marked_sent_and_never_sent_twice(admin_user, account, wallet_card):
    invoice = over_limit(admin_user, account, wallet_card)

    run(DUE)

    [attempt] = AutoPayAttempt.objects.filter(invoice=invoice)
    assert attempt.outcome == Outcome.SKIPPED_OVER_LIMIT
    assert attempt.notice_due and attempt.notice_sent_at is not None
    assert len(notices(invoice.number)) == 1
    # The sweep's copy (or a redelivered message) finds it sent.
    assert autopay.autopay_notice_deliver(attempt_id=attempt.id) is False
    with at(DUE, hour=9):
        assert autopay.autopay_notices_requeue() == 0
    assert len(notices(invoice.number)) == 1


def test_a_notice_the_mail_server_refused_is_sent_by_the_sweep_once(admin_user, account, wallet_card, settings):
    invoice = over_limit(admin_user, account, wallet_card)
    settings.EMAIL_BACKEND = "tests.payments.test_autopay_notices.RefusingBackend"

    run(DUE)  # the run commits; the notice cannot go out

    [attempt] = AutoPayAttempt.objects.filter(invoice=invoice)
    assert attempt.notice_due and attempt.notice_sent_at is None
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with at(DUE, hour=7):
        assert autopay.autopay_notices_requeue() == 0  # not before 5 minutes
    with at(DUE, hour=8):
        assert autopay.autopay_notices_requeue() == 1  # eager here: queued and sent
        assert autopay.autopay_notices_requeue() == 0

    attempt.refresh_from_db()
    assert attempt.notice_sent_at is not None
    assert len(notices(invoice.number)) == 1


def test_a_declined_charge_is_due_a_notice_and_a_paid_invoice_is_not(admin_user, company, account):
    declined_card = card_method(company, number=CARD_INSUFFICIENT)
    setup_autopay(admin_user, account, declined_card, days_before_due=0)
    invoice = issue(account, "INV000000409", on=datetime.date(2026, 3, 5), due=DUE)

    run(DUE)

    [attempt] = AutoPayAttempt.objects.filter(invoice=invoice)
    assert attempt.outcome == Outcome.FAILED_SOFT
    assert attempt.notice_due and attempt.notice_sent_at is not None
    assert len(notices(invoice.number)) == 1


def test_a_paid_invoice_is_due_no_notice(admin_user, account, wallet_card):
    setup_autopay(admin_user, account, wallet_card, days_before_due=0)
    invoice = issue(account, "INV000000410", on=datetime.date(2026, 3, 5), due=DUE)

    run(DUE)

    [attempt] = AutoPayAttempt.objects.filter(invoice=invoice)
    assert attempt.outcome == Outcome.PAID
    assert not attempt.notice_due


class RefusingBackend:
    """A mail server that is down."""

    def __init__(self, *args, **kwargs):
        pass

    def open(self):
        raise ConnectionRefusedError("mail server down")

    def close(self):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("mail server down")
