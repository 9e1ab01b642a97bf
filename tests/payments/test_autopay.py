"""AutoPay schedules and the daily run, travelling in time (limits, days before due, weekday,
until-date, paused, expired card, retries, hard declines, unknown outcomes)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.test import TestCase
from django.utils import translation
from django.utils.translation import gettext

from accounts.models import AuditEvent, Role
from core.exceptions import ApplicationError
from disputes.models import Dispute, DisputeStatus
from payments import autopay
from payments.models import AutoPayAttempt, AutoPaySchedule, Payment, PaymentStatus, SimulatedCharge
from payments.services import payment_reconcile
from tests.accounts.factories import MembershipFactory, UserFactory
from tests.invoices.factories import InvoiceFactory

from .conftest import CARD_EXPIRED, CARD_INSUFFICIENT, CARD_OK, CARD_TIMEOUT, card_method

pytestmark = pytest.mark.django_db

SEOUL = ZoneInfo("Asia/Seoul")
Outcome = AutoPayAttempt.Outcome
START = datetime.date(2026, 3, 2)  # a Monday


def at(day: datetime.date, hour: int = 7):
    """Travel to ``day`` at ``hour`` in Seoul (the clock stands still)."""
    return time_machine.travel(datetime.datetime.combine(day, datetime.time(hour), tzinfo=SEOUL), tick=False)


def setup_autopay(user, account, method, *, on=START, **options) -> AutoPaySchedule:
    values = {
        "amount_mode": AutoPaySchedule.AmountMode.FULL,
        "limit_amount": None,
        "timing": AutoPaySchedule.Timing.DAYS_BEFORE_DUE,
        "days_before_due": 3,
        "weekday": None,
        "until_date": None,
        "consent": True,
    }
    values.update(options)
    with at(on, hour=10):
        return autopay.autopay_create(actor=user, billable=account, method=method, **values)


def issue(account, number, *, on, due, total="50000"):
    return InvoiceFactory(account=account, number=number, invoice_date=on, due_date=due, total=Decimal(total))


def run(day: datetime.date):
    """The daily run on ``day``; e-mails scheduled for after the commit are sent."""
    with at(day), TestCase.captureOnCommitCallbacks(execute=True):
        return autopay.autopay_run()


def korean(text: str) -> str:
    """E-mails from jobs are written in the portal's default language (Korean)."""
    with translation.override("ko"):
        return gettext(text)


def attempts(invoice):
    return list(AutoPayAttempt.objects.filter(invoice=invoice).order_by("attempt_no"))


# --- Setting up ----------------------------------------------------------------------------------


def test_set_up_records_consent_time_terms_version_and_an_audit_event(admin_user, account, wallet_card):
    schedule = setup_autopay(admin_user, account, wallet_card)

    assert schedule.start_date == START
    assert schedule.consent_at.astimezone(SEOUL).date() == START
    assert schedule.terms_version == autopay.TERMS_VERSION
    event = AuditEvent.objects.get(action="autopay.created")
    assert event.actor == admin_user
    assert event.data["terms_version"] == autopay.TERMS_VERSION


def test_set_up_without_consent_is_refused_and_nothing_is_written(admin_user, account, wallet_card):
    with pytest.raises(ApplicationError) as refused:
        setup_autopay(admin_user, account, wallet_card, consent=False)

    assert refused.value.field == "consent"
    assert not AutoPaySchedule.objects.exists()


def test_a_second_autopay_for_the_same_account_is_refused(admin_user, account, wallet_card):
    setup_autopay(admin_user, account, wallet_card)

    with pytest.raises(ApplicationError):
        setup_autopay(admin_user, account, wallet_card)

    assert AutoPaySchedule.objects.count() == 1


def test_an_expired_card_cannot_be_chosen(admin_user, company, account):
    expired = card_method(company, exp=(1, 2026), default=False)

    with pytest.raises(ApplicationError) as refused:
        setup_autopay(admin_user, account, expired)

    assert refused.value.field == "method"


def test_edit_pause_resume_and_cancel_are_each_audited(admin_user, account, wallet_card):
    schedule = setup_autopay(admin_user, account, wallet_card)
    with at(START):
        autopay.autopay_update(
            actor=admin_user,
            schedule=schedule,
            method=wallet_card,
            amount_mode=AutoPaySchedule.AmountMode.UP_TO_LIMIT,
            limit_amount=Decimal("100000"),
            timing=AutoPaySchedule.Timing.WEEKDAY,
            days_before_due=None,
            weekday=4,
            until_date=None,
            consent=True,
        )
        autopay.autopay_pause(actor=admin_user, schedule=schedule)
        autopay.autopay_resume(actor=admin_user, schedule=schedule)
        autopay.autopay_cancel(actor=admin_user, schedule=schedule)

    actions = list(AuditEvent.objects.filter(target_type="payments.autopayschedule").values_list("action", flat=True))
    assert sorted(actions) == sorted(
        ["autopay.created", "autopay.updated", "autopay.paused", "autopay.resumed", "autopay.cancelled"]
    )
    updated = AuditEvent.objects.get(action="autopay.updated")
    assert updated.data["changes"]["timing"] == ["days_before_due", "weekday"]
    schedule.refresh_from_db()
    assert schedule.status == AutoPaySchedule.Status.CANCELLED


# --- Timing ----------------------------------------------------------------------------------


def test_days_before_due_pays_on_that_day_and_not_before(admin_user, account, wallet_card):
    setup_autopay(admin_user, account, wallet_card, days_before_due=3)
    invoice = issue(account, "INV000000201", on=datetime.date(2026, 3, 5), due=datetime.date(2026, 3, 25))

    run(datetime.date(2026, 3, 21))
    invoice.refresh_from_db()
    assert invoice.amount_paid == 0
    assert not attempts(invoice)

    run(datetime.date(2026, 3, 22))
    invoice.refresh_from_db()
    assert invoice.balance == 0
    [attempt] = attempts(invoice)
    assert attempt.outcome == Outcome.PAID
    assert attempt.idempotency_key == f"autopay:{attempt.schedule_id}:{invoice.id}:1"
    assert attempt.payment.company == account.company


def test_zero_days_pays_on_the_due_date(admin_user, account, wallet_card):
    setup_autopay(admin_user, account, wallet_card, days_before_due=0)
    invoice = issue(account, "INV000000202", on=datetime.date(2026, 3, 5), due=datetime.date(2026, 3, 25))

    run(datetime.date(2026, 3, 24))
    assert not attempts(invoice)
    run(datetime.date(2026, 3, 25))

    invoice.refresh_from_db()
    assert invoice.balance == 0


def test_weekday_timing_pays_only_on_that_weekday(admin_user, account, wallet_card):
    setup_autopay(
        admin_user, account, wallet_card, timing=AutoPaySchedule.Timing.WEEKDAY, weekday=4, days_before_due=None
    )
    invoice = issue(account, "INV000000203", on=datetime.date(2026, 3, 3), due=datetime.date(2026, 4, 2))

    run(datetime.date(2026, 3, 5))  # Thursday
    assert not attempts(invoice)
    run(datetime.date(2026, 3, 6))  # Friday

    invoice.refresh_from_db()
    assert invoice.balance == 0


def test_invoices_open_before_autopay_started_are_not_paid_but_listed_to_pay_once(admin_user, account, wallet_card):
    earlier = issue(account, "INV000000204", on=datetime.date(2026, 2, 20), due=datetime.date(2026, 3, 10))
    schedule = setup_autopay(admin_user, account, wallet_card, days_before_due=0)

    run(datetime.date(2026, 3, 10))

    earlier.refresh_from_db()
    assert earlier.amount_paid == 0
    preview = autopay.autopay_preview(schedule, today=datetime.date(2026, 3, 9))
    assert [i.number for i in preview.open_before_start] == ["INV000000204"]
    assert preview.items == []


def test_nothing_is_paid_after_the_until_date(admin_user, account, wallet_card):
    setup_autopay(admin_user, account, wallet_card, days_before_due=0, until_date=datetime.date(2026, 3, 20))
    invoice = issue(account, "INV000000205", on=datetime.date(2026, 3, 5), due=datetime.date(2026, 3, 25))

    run(datetime.date(2026, 3, 25))

    invoice.refresh_from_db()
    assert invoice.amount_paid == 0
    assert not attempts(invoice)


def test_a_paused_schedule_pays_nothing_until_resumed(admin_user, account, wallet_card):
    schedule = setup_autopay(admin_user, account, wallet_card, days_before_due=0)
    invoice = issue(account, "INV000000206", on=datetime.date(2026, 3, 5), due=datetime.date(2026, 3, 25))
    with at(START):
        autopay.autopay_pause(actor=admin_user, schedule=schedule)

    run(datetime.date(2026, 3, 25))
    invoice.refresh_from_db()
    assert invoice.amount_paid == 0

    with at(datetime.date(2026, 3, 26)):
        autopay.autopay_resume(actor=admin_user, schedule=schedule)
    run(datetime.date(2026, 3, 26))  # past the due day: paid on the first run after resuming
    invoice.refresh_from_db()
    assert invoice.balance == 0


# --- Skips ------------------------------------------------------------------------------------


def test_an_invoice_above_the_limit_is_skipped_and_the_payers_are_told_once(admin_user, account, wallet_card):
    setup_autopay(
        admin_user,
        account,
        wallet_card,
        amount_mode=AutoPaySchedule.AmountMode.UP_TO_LIMIT,
        limit_amount=Decimal("60000"),
        days_before_due=0,
    )
    small = issue(account, "INV000000207", on=datetime.date(2026, 3, 5), due=datetime.date(2026, 3, 25), total="59000")
    large = issue(account, "INV000000208", on=datetime.date(2026, 3, 5), due=datetime.date(2026, 3, 25), total="61000")

    run(datetime.date(2026, 3, 25))
    run(datetime.date(2026, 3, 26))

    small.refresh_from_db()
    large.refresh_from_db()
    assert small.balance == 0
    assert large.amount_paid == 0
    assert [a.outcome for a in attempts(large)] == [Outcome.SKIPPED_OVER_LIMIT]
    notices = [m for m in mail.outbox if "INV000000208" in m.subject]
    assert len(notices) == 1
    assert admin_user.email in notices[0].to
    assert "/payments/pay/?invoice=INV000000208" in notices[0].body


def test_a_disputed_invoice_is_skipped(admin_user, account, wallet_card):
    setup_autopay(admin_user, account, wallet_card, days_before_due=0)
    invoice = issue(account, "INV000000209", on=datetime.date(2026, 3, 5), due=datetime.date(2026, 3, 25))
    Dispute.objects.create(
        reference="DSP000000209",
        company=account.company,
        invoice=invoice,
        filed_by=admin_user,
        status=DisputeStatus.UNDER_REVIEW,
    )

    run(datetime.date(2026, 3, 25))

    invoice.refresh_from_db()
    assert invoice.amount_paid == 0
    assert [a.outcome for a in attempts(invoice)] == [Outcome.SKIPPED_DISPUTED]
    assert not Payment.objects.exists()


def test_a_card_that_expired_before_the_run_is_not_charged(admin_user, company, account):
    card = card_method(company, exp=(3, 2026))
    setup_autopay(admin_user, account, card, days_before_due=0)
    invoice = issue(account, "INV000000210", on=datetime.date(2026, 3, 20), due=datetime.date(2026, 4, 1))

    run(datetime.date(2026, 4, 1))

    assert [a.outcome for a in attempts(invoice)] == [Outcome.SKIPPED_METHOD]
    assert not SimulatedCharge.objects.exists()
    assert any("INV000000210" in m.subject for m in mail.outbox)


def test_preview_shows_what_the_next_run_pays_and_skips(admin_user, account, wallet_card):
    schedule = setup_autopay(
        admin_user,
        account,
        wallet_card,
        amount_mode=AutoPaySchedule.AmountMode.UP_TO_LIMIT,
        limit_amount=Decimal("60000"),
        days_before_due=2,
    )
    issue(account, "INV000000211", on=datetime.date(2026, 3, 5), due=datetime.date(2026, 3, 25), total="59000")
    issue(account, "INV000000212", on=datetime.date(2026, 3, 5), due=datetime.date(2026, 3, 20), total="61000")

    preview = autopay.autopay_preview(schedule, today=datetime.date(2026, 3, 10))

    plan = {item.invoice.number: (item.action, item.run_date) for item in preview.items}
    assert plan == {
        "INV000000211": ("pay", datetime.date(2026, 3, 23)),
        "INV000000212": (Outcome.SKIPPED_OVER_LIMIT, datetime.date(2026, 3, 18)),
    }
    assert preview.next_run == datetime.date(2026, 3, 18)


# --- Declines and unknown outcomes ----------------------------------------------------------------


def test_a_soft_decline_is_retried_on_the_next_runs_up_to_three_times_with_new_keys(admin_user, company, account):
    card = card_method(company, CARD_INSUFFICIENT)
    schedule = setup_autopay(admin_user, account, card, days_before_due=0)
    invoice = issue(account, "INV000000213", on=datetime.date(2026, 3, 5), due=datetime.date(2026, 3, 25))

    for offset in range(6):
        run(datetime.date(2026, 3, 25) + datetime.timedelta(days=offset))
        run(datetime.date(2026, 3, 25) + datetime.timedelta(days=offset))  # a second run the same day: no retry

    tries = attempts(invoice)
    assert [a.outcome for a in tries] == [Outcome.FAILED_SOFT] * 4
    assert len({a.idempotency_key for a in tries}) == 4
    assert SimulatedCharge.objects.count() == 4
    schedule.refresh_from_db()
    assert schedule.status == AutoPaySchedule.Status.ACTIVE
    last_notice = [m for m in mail.outbox if "INV000000213" in m.subject][-1]
    assert korean("AutoPay will not try this invoice again.") in last_notice.body


def test_a_retry_after_a_soft_decline_pays_once_the_card_works(admin_user, company, account):
    card = card_method(company, CARD_INSUFFICIENT)
    setup_autopay(admin_user, account, card, days_before_due=0)
    invoice = issue(account, "INV000000214", on=datetime.date(2026, 3, 5), due=datetime.date(2026, 3, 25))
    run(datetime.date(2026, 3, 25))
    card.gateway_token = card_method(company, CARD_OK, default=False).gateway_token  # the bank has the funds now
    card.save()

    run(datetime.date(2026, 3, 26))

    invoice.refresh_from_db()
    assert invoice.balance == 0
    assert [a.outcome for a in attempts(invoice)] == [Outcome.FAILED_SOFT, Outcome.PAID]


def test_a_hard_decline_pauses_the_schedule_and_notifies(admin_user, company, account):
    card = card_method(company, CARD_EXPIRED)
    schedule = setup_autopay(admin_user, account, card, days_before_due=0)
    invoice = issue(account, "INV000000215", on=datetime.date(2026, 3, 5), due=datetime.date(2026, 3, 25))

    run(datetime.date(2026, 3, 25))
    run(datetime.date(2026, 3, 26))

    schedule.refresh_from_db()
    assert schedule.status == AutoPaySchedule.Status.PAUSED
    assert [a.outcome for a in attempts(invoice)] == [Outcome.FAILED_HARD]
    assert AuditEvent.objects.filter(action="autopay.paused", data__reason="hard_decline").exists()
    notice = next(m for m in mail.outbox if "INV000000215" in m.subject)
    assert korean("AutoPay is paused until you choose another payment method and start it again.") in notice.body


def test_an_unknown_outcome_goes_to_reconciliation_and_is_never_retried(admin_user, company, account):
    card = card_method(company, CARD_TIMEOUT)
    setup_autopay(admin_user, account, card, days_before_due=0)
    invoice = issue(account, "INV000000216", on=datetime.date(2026, 3, 5), due=datetime.date(2026, 3, 25))

    run(datetime.date(2026, 3, 25))
    run(datetime.date(2026, 3, 26))

    [attempt] = attempts(invoice)
    assert attempt.outcome == Outcome.PROCESSING
    assert SimulatedCharge.objects.count() == 1

    with at(datetime.date(2026, 3, 26), hour=8):
        payment_reconcile()
    run(datetime.date(2026, 3, 27))

    attempt.refresh_from_db()
    invoice.refresh_from_db()
    assert attempt.outcome == Outcome.PAID
    assert invoice.balance == 0
    assert SimulatedCharge.objects.count() == 1


def test_two_runs_the_same_day_pay_each_invoice_once(admin_user, account, wallet_card):
    setup_autopay(admin_user, account, wallet_card, days_before_due=0)
    invoice = issue(account, "INV000000217", on=datetime.date(2026, 3, 5), due=datetime.date(2026, 3, 25))

    run(datetime.date(2026, 3, 25))
    run(datetime.date(2026, 3, 25))

    assert Payment.objects.count() == 1
    assert SimulatedCharge.objects.count() == 1
    invoice.refresh_from_db()
    assert invoice.amount_paid == Decimal("50000")


def test_the_receipt_is_e_mailed_to_the_person_who_set_up_autopay(admin_user, account, wallet_card):
    setup_autopay(admin_user, account, wallet_card, days_before_due=0)
    issue(account, "INV000000218", on=datetime.date(2026, 3, 5), due=datetime.date(2026, 3, 25))

    run(datetime.date(2026, 3, 25))

    receipts = [m for m in mail.outbox if m.attachments]
    assert len(receipts) == 1
    assert receipts[0].to == [admin_user.email]


def test_scheduled_one_time_payments_are_carried_out_on_their_day(admin_user, account, wallet_card):
    from payments.services import PaymentSource, payment_create

    invoice = issue(account, "INV000000219", on=datetime.date(2026, 3, 5), due=datetime.date(2026, 3, 25))
    with at(datetime.date(2026, 3, 10), hour=10):
        [payment] = payment_create(
            actor=admin_user,
            invoice_ids=[invoice.id],
            source=PaymentSource.from_method(wallet_card),
            idempotency_key="scheduled-one",
            scheduled_for=datetime.date(2026, 3, 20),
        ).payments
    assert payment.status == PaymentStatus.SCHEDULED

    run(datetime.date(2026, 3, 19))
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SCHEDULED

    run(datetime.date(2026, 3, 20))
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert invoice.balance == 0


# --- Card expiry reminders ---------------------------------------------------------------------


def test_payers_are_reminded_once_30_days_before_an_autopay_card_expires(admin_user, company, account):
    payer = UserFactory(username="payer1")
    MembershipFactory(user=payer, company=company, role=Role.PAYER, accounts=[account])
    viewer = UserFactory(username="viewer1")
    MembershipFactory(user=viewer, company=company, role=Role.VIEWER, accounts=[account])
    card = card_method(company, exp=(4, 2026))
    setup_autopay(admin_user, account, card)

    with at(datetime.date(2026, 3, 30)):
        assert autopay.card_expiry_reminders_send() == 0  # 31 days before the card's last day, 30 April
    with at(datetime.date(2026, 3, 31)), TestCase.captureOnCommitCallbacks(execute=True):
        assert autopay.card_expiry_reminders_send() == 1  # 30 days before
    with at(datetime.date(2026, 4, 1)):
        assert autopay.card_expiry_reminders_send() == 0

    [reminder] = mail.outbox
    assert sorted(reminder.to) == sorted([admin_user.email, payer.email])
    assert f"/payments/wallet/{card.id}/edit/" in reminder.body


def test_no_reminder_for_a_card_no_autopay_uses(admin_user, company):
    card_method(company, exp=(4, 2026))

    with at(datetime.date(2026, 4, 10)):
        assert autopay.card_expiry_reminders_send() == 0
    assert mail.outbox == []
