"""Beat restarts and skipped days: the daily jobs still run, and a missed day is paid once.

Beat keeps each entry's last run in the database (django-celery-beat's DatabaseScheduler), so a
beat started again after 07:00 (a new container: nothing of the old one's files) still sends that
day's AutoPay run; and an AutoPay run pays what a skipped day should have paid, once.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from celery.utils.imports import symbol_by_name
from django.conf import settings
from django.test import TestCase

from accounts.models import Role
from billing_centre.celery import app
from payments import autopay
from payments.models import AutoPayAttempt, AutoPaySchedule, Payment, PaymentStatus, SimulatedCharge
from tests.accounts.factories import CompanyFactory, MembershipFactory, ShippingAccountFactory, UserFactory
from tests.invoices.factories import InvoiceFactory
from tests.payments.conftest import card_method

pytestmark = pytest.mark.django_db

SEOUL = ZoneInfo("Asia/Seoul")
AUTOPAY_ENTRY = "payments-autopay-run"


def seoul(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=SEOUL)


def start_beat(tmp_path, name: str):
    """A beat scheduler as `celery beat` builds it at start, in a fresh container (empty folder)."""
    folder = tmp_path / name
    folder.mkdir()
    scheduler_class = symbol_by_name(settings.CELERY_BEAT_SCHEDULER)
    return scheduler_class(app=app, schedule_filename=str(folder / "celerybeat-schedule"), lazy=False)


# Beat closes and reopens its database connections as a process of its own would.
@pytest.mark.django_db(transaction=True)
def test_beat_restarted_after_the_run_time_still_sends_that_days_autopay_run(tmp_path):
    monday = datetime.date(2026, 3, 2)
    # Monday 07:00: beat sends the AutoPay run (its entry records the run), then beat stops.
    with time_machine.travel(seoul(monday, 7, 0), tick=False):
        beat = start_beat(tmp_path, "monday")
        beat.reserve(beat.schedule[AUTOPAY_ENTRY])
        beat.sync()
        beat.close()
    # Tuesday: the beat container is replaced around 07:00 and starts at 07:20.
    with time_machine.travel(seoul(monday + datetime.timedelta(days=1), 7, 20), tick=False):
        beat = start_beat(tmp_path, "tuesday")
        due, _next = beat.schedule[AUTOPAY_ENTRY].is_due()
        beat.close()

    assert due, "Tuesday's AutoPay run was skipped by a beat restart"


@pytest.mark.django_db(transaction=True)
def test_beat_keeps_the_schedule_of_settings_as_the_source_of_truth(tmp_path):
    with time_machine.travel(seoul(datetime.date(2026, 3, 2), 6), tick=False):
        beat = start_beat(tmp_path, "first")
        beat.close()
    from django_celery_beat.models import PeriodicTask

    stored = dict(PeriodicTask.objects.values_list("name", "task"))
    assert {name: entry["task"] for name, entry in settings.CELERY_BEAT_SCHEDULE.items()}.items() <= stored.items()
    assert stored[AUTOPAY_ENTRY] == "payments.autopay_run"
    assert stored["accounts-jobs-watch"] == "accounts.jobs_watch"


# --- A skipped day is paid by the next run, once ------------------------------------------------


def at(day: datetime.date, hour: int = 7):
    return time_machine.travel(seoul(day, hour), tick=False)


def run(day: datetime.date):
    with at(day), TestCase.captureOnCommitCallbacks(execute=True):
        return autopay.autopay_run()


def autopay_account(index: int, **timing):
    company = CompanyFactory()
    user = UserFactory(username=f"beat-admin-{index}")
    MembershipFactory(user=user, company=company, role=Role.ADMINISTRATOR)
    account = ShippingAccountFactory(company=company)
    with at(datetime.date(2026, 3, 2), hour=10):
        autopay.autopay_create(
            actor=user,
            billable=account,
            method=card_method(company),
            amount_mode=AutoPaySchedule.AmountMode.FULL,
            limit_amount=None,
            until_date=None,
            consent=True,
            **timing,
        )
    return account


def test_a_skipped_day_of_beat_is_paid_by_the_next_run_once():
    days_before = autopay_account(1, timing=AutoPaySchedule.Timing.DAYS_BEFORE_DUE, days_before_due=0, weekday=None)
    friday = autopay_account(2, timing=AutoPaySchedule.Timing.WEEKDAY, weekday=4, days_before_due=None)
    due_wednesday = InvoiceFactory(
        account=days_before,
        invoice_date=datetime.date(2026, 3, 3),
        due_date=datetime.date(2026, 3, 4),
        total=Decimal("40000"),
    )
    paid_on_friday = InvoiceFactory(
        account=friday,
        invoice_date=datetime.date(2026, 3, 3),
        due_date=datetime.date(2026, 3, 31),
        total=Decimal("60000"),
    )

    run(datetime.date(2026, 3, 3))  # Tuesday: nothing due yet
    # Wednesday and Friday: beat was down, no run.
    run(datetime.date(2026, 3, 7))  # Saturday: the next run
    run(datetime.date(2026, 3, 7))  # and a second one the same day (a retry, a second beat)
    run(datetime.date(2026, 3, 8))

    for invoice in (due_wednesday, paid_on_friday):
        invoice.refresh_from_db()
        assert invoice.balance == 0, invoice.number
        [payment] = Payment.objects.filter(allocations__invoice=invoice)
        assert payment.status == PaymentStatus.SUCCEEDED
        [attempt] = AutoPayAttempt.objects.filter(invoice=invoice)
        assert attempt.run_on == datetime.date(2026, 3, 7)
    assert SimulatedCharge.objects.count() == 2
