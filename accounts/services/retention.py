"""Retention of accounts' records that only grow: job runs, job alerts, enrolment attempts.

The audit log (``AuditEvent``) is not purged: it is the trail of payments, role changes and
disputes, kept as long as the payments it explains (docs/operations.md, "Retention").
"""

from __future__ import annotations

import logging

from django.conf import settings

from core.retention import delete_in_batches, retention_cutoff

from ..models import EnrolmentAttempt, JobAlert, JobRun

logger = logging.getLogger(__name__)


def job_records_purge(*, days: int | None = None) -> dict[str, int]:
    """Delete job runs that finished (or were abandoned) and job alerts older than ``days``.

    ``BC_JOB_RUN_RETENTION_DAYS``. A run still *running* is never deleted, whatever its age: the
    watch and the next run need it to take over its work.
    """
    cutoff = retention_cutoff(settings.BC_JOB_RUN_RETENTION_DAYS if days is None else days)
    if cutoff is None:
        return {"job_alerts": 0, "job_runs": 0}
    alerts = delete_in_batches(JobAlert.objects.filter(created_at__lt=cutoff))
    runs = delete_in_batches(JobRun.objects.filter(started_at__lt=cutoff).exclude(status=JobRun.Status.RUNNING))
    logger.info("retention: %s job runs and %s job alerts older than %s deleted", runs, alerts, cutoff.date())
    return {"job_alerts": alerts, "job_runs": runs}


def enrolment_attempts_purge(*, days: int | None = None) -> int:
    """Delete enrolment attempts older than ``days`` (``BC_ENROLMENT_ATTEMPT_RETENTION_DAYS``).

    The lock-out counts only the last minutes' attempts; older ones are kept a while as evidence
    of guessing at account numbers, then go.
    """
    cutoff = retention_cutoff(settings.BC_ENROLMENT_ATTEMPT_RETENTION_DAYS if days is None else days)
    if cutoff is None:
        return 0
    deleted = delete_in_batches(EnrolmentAttempt.objects.filter(created_at__lt=cutoff))
    logger.info("retention: %s enrolment attempts older than %s deleted", deleted, cutoff.date())
    return deleted
