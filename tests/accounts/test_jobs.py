"""Job runs hold a lease (a run whose worker died does not stay "running"), and the watch alerts
billing staff, in the admin and by e-mail, once per job and day, about a daily job that has not
succeeded by its deadline."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.test import TestCase

from accounts.jobs import job_run, jobs_watch
from accounts.models import JobAlert, JobRun
from accounts.tasks import jobs_watch_task
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

SEOUL = ZoneInfo("Asia/Seoul")
DAY = datetime.date(2026, 3, 4)


def at(hour: int, minute: int = 0, day: datetime.date = DAY):
    return time_machine.travel(datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=SEOUL), tick=False)


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.JOB_DEADLINES = {"fees_assess": "07:30", "autopay_run": "09:00", "card_expiry_reminders": "11:00"}
    settings.JOB_MAX_SILENCE = {"payment_reconcile": 3600}
    settings.JOB_LEASE_SECONDS = 600
    settings.JOB_RESUME_TASKS = {}  # sending an abandoned job again: tests/payments/test_autopay_takeover.py
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def staff():
    return UserFactory(username="ops", email="ops@example.com", is_staff=True, is_superuser=True)


def succeed(job: str, hour: int, minute: int = 0, day: datetime.date = DAY) -> None:
    with at(hour, minute, day), job_run(job, trigger="beat"):
        pass


def watch(hour: int, minute: int = 0, day: datetime.date = DAY) -> list[JobAlert]:
    with at(hour, minute, day), TestCase.captureOnCommitCallbacks(execute=True):
        return jobs_watch()


# --- Leases ----------------------------------------------------------------------------------------


def test_a_run_whose_worker_died_is_marked_abandoned_when_the_next_run_starts():
    with at(7, 0):
        dead = JobRun.objects.create(job="autopay_run", trigger="beat", started_at=datetime.datetime.now(tz=SEOUL))
        dead.lease_until = dead.started_at + datetime.timedelta(seconds=600)
        dead.save()

    succeed("autopay_run", 7, 5)  # within the dead run's lease: it may still be alive
    dead.refresh_from_db()
    assert dead.status == JobRun.Status.RUNNING

    succeed("autopay_run", 7, 11)
    dead.refresh_from_db()
    assert dead.status == JobRun.Status.ABANDONED
    assert dead.finished_at is not None
    assert "abandoned" in dead.errors[-1]


def test_the_watch_marks_runs_past_their_lease_abandoned_and_leaves_live_ones():
    with at(7, 0):
        dead = JobRun.objects.create(job="fees_assess", started_at=datetime.datetime.now(tz=SEOUL))
        JobRun.objects.filter(pk=dead.pk).update(lease_until=dead.started_at + datetime.timedelta(minutes=10))
    with at(7, 5):
        alive = JobRun.objects.create(job="autopay_run", started_at=datetime.datetime.now(tz=SEOUL))
        JobRun.objects.filter(pk=alive.pk).update(lease_until=alive.started_at + datetime.timedelta(minutes=10))

    watch(7, 12)

    dead.refresh_from_db()
    alive.refresh_from_db()
    assert (dead.status, alive.status) == (JobRun.Status.ABANDONED, JobRun.Status.RUNNING)


def test_a_run_renews_its_lease_while_it_works():
    with at(7, 0) as clock, job_run("autopay_run") as run:
        first = JobRun.objects.get(pk=run.record.pk).lease_until
        clock.shift(datetime.timedelta(minutes=1))
        run.heartbeat()  # within a quarter of the lease: not written again
        unchanged = JobRun.objects.get(pk=run.record.pk).lease_until
        clock.shift(datetime.timedelta(minutes=8))
        run.heartbeat()
        renewed = JobRun.objects.get(pk=run.record.pk).lease_until
    assert unchanged == first
    assert renewed - first == datetime.timedelta(minutes=9)


# --- Alerts ------------------------------------------------------------------------------------


def test_a_daily_job_not_done_by_its_deadline_alerts_staff_once_in_admin_and_by_e_mail(staff, client):
    succeed("fees_assess", 5, 30)
    succeed("payment_reconcile", 8, 45)

    assert watch(8, 59) == []
    [alert] = watch(9, 0)
    assert watch(9, 15) == []
    assert watch(9, 40) == []

    assert (alert.job, alert.day, alert.deadline) == ("autopay_run", DAY, "09:00")
    [message] = mail.outbox
    assert message.to == ["ops@example.com"]
    assert "AutoPay run" in message.subject
    assert "09:00" in message.body and "autopay_run" in message.body
    client.force_login(staff)
    page = client.get("/admin/accounts/jobalert/")
    assert page.status_code == 200
    assert b"autopay_run" in page.content
    assert client.get(f"/admin/accounts/jobalert/{alert.pk}/change/").status_code == 200
    assert client.post(f"/admin/accounts/jobalert/{alert.pk}/delete/").status_code == 403
    assert type(alert).objects.filter(pk=alert.pk).exists()


def test_a_job_that_succeeded_before_its_deadline_raises_no_alert(staff):
    succeed("fees_assess", 5, 30)
    succeed("autopay_run", 7, 0)
    succeed("card_expiry_reminders", 9, 0)
    succeed("payment_reconcile", 11, 50)

    assert watch(12, 0) == []
    assert mail.outbox == []


def test_a_failed_or_abandoned_run_does_not_count_as_done(staff):
    with at(7, 0), pytest.raises(RuntimeError), job_run("autopay_run"):
        raise RuntimeError("gateway down")
    succeed("fees_assess", 5, 30)
    succeed("payment_reconcile", 9, 0)

    [alert] = watch(9, 0)

    assert alert.job == "autopay_run"
    assert alert.last_run.status == JobRun.Status.FAILED


def test_reconciliation_without_a_success_for_an_hour_alerts_and_each_day_has_its_own_alert(staff):
    succeed("fees_assess", 5, 30)
    succeed("autopay_run", 7, 0)
    succeed("payment_reconcile", 6, 0)

    assert watch(6, 45) == []
    [alert] = watch(7, 15)
    assert (alert.job, alert.deadline) == ("payment_reconcile", "60 min")

    next_day = DAY + datetime.timedelta(days=1)
    alerts = watch(7, 45, day=next_day)
    assert {a.job for a in alerts} == {"payment_reconcile", "fees_assess"}
    assert len(mail.outbox) == 3


def test_the_watch_task_runs_the_watch(staff):
    with at(23, 0):
        assert jobs_watch_task.delay().get() == 4
    assert JobAlert.objects.count() == 4
