"""Retention in accounts: old job runs, job alerts and enrolment attempts go; the audit log stays."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import AuditEvent, EnrolmentAttempt, EnrolmentOutcome, JobAlert, JobRun
from accounts.tasks import records_purge_task
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


def _days_ago(days: int) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(days=days)


def _run(days_ago: int, status: str = JobRun.Status.SUCCEEDED) -> JobRun:
    return JobRun.objects.create(job="autopay_run", trigger="beat", status=status, started_at=_days_ago(days_ago))


def test_records_purge_deletes_finished_job_runs_and_alerts_past_the_retention(settings):
    settings.BC_JOB_RUN_RETENTION_DAYS = 180
    old_ok, old_failed, old_abandoned = _run(200), _run(181, JobRun.Status.FAILED), _run(190, JobRun.Status.ABANDONED)
    old_running = _run(300, JobRun.Status.RUNNING)  # never deleted: a later run takes its work over
    recent = _run(10)
    old_alert = JobAlert.objects.create(
        job="autopay_run", day=_days_ago(200).date(), deadline="09:00", message="late", last_run=old_ok
    )
    JobAlert.objects.filter(pk=old_alert.pk).update(created_at=_days_ago(200))
    new_alert = JobAlert.objects.create(
        job="autopay_run", day=_days_ago(1).date(), deadline="09:00", message="late", last_run=old_failed
    )

    counts = records_purge_task.delay().get()

    assert counts["job_runs"] == 3
    assert counts["job_alerts"] == 1
    assert set(JobRun.objects.values_list("pk", flat=True)) == {old_running.pk, recent.pk}
    assert list(JobAlert.objects.values_list("pk", flat=True)) == [new_alert.pk]
    # The recent alert pointed at a purged run: it stays, without the link.
    new_alert.refresh_from_db()
    assert new_alert.last_run is None
    assert not JobRun.objects.filter(pk__in=[old_ok.pk, old_failed.pk, old_abandoned.pk]).exists()


def test_records_purge_deletes_old_enrolment_attempts_and_never_the_audit_log(settings):
    settings.BC_ENROLMENT_ATTEMPT_RETENTION_DAYS = 365
    user = UserFactory()
    old = EnrolmentAttempt.objects.create(user=user, number="A1B2C3", outcome=EnrolmentOutcome.MISMATCH)
    EnrolmentAttempt.objects.filter(pk=old.pk).update(created_at=_days_ago(366))
    recent = EnrolmentAttempt.objects.create(user=user, number="A1B2C3", outcome=EnrolmentOutcome.MISMATCH)
    audit_record(action="test.old", actor=user)
    AuditEvent.objects.update(created_at=_days_ago(4000))

    counts = records_purge_task.delay().get()

    assert counts["enrolment_attempts"] == 1
    assert list(EnrolmentAttempt.objects.values_list("pk", flat=True)) == [recent.pk]
    assert AuditEvent.objects.filter(action="test.old").count() == 1


def test_records_purge_with_zero_days_keeps_everything(settings):
    settings.BC_JOB_RUN_RETENTION_DAYS = 0
    settings.BC_ENROLMENT_ATTEMPT_RETENTION_DAYS = 0
    _run(5000)

    assert records_purge_task.delay().get() == {"job_alerts": 0, "job_runs": 0, "enrolment_attempts": 0}
    assert JobRun.objects.count() == 1
