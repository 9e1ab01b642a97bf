"""Celery entry points for accounts; they call a service."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="accounts.jobs_watch")
def jobs_watch_task() -> int:
    """Every 15 minutes (beat): runs of dead workers are marked abandoned; late daily jobs alert staff."""
    from .jobs import jobs_watch

    return len(jobs_watch())


@shared_task(name="accounts.records_purge")
def records_purge_task() -> dict[str, int]:
    """Daily (beat): job runs, job alerts and enrolment attempts past their retention are deleted."""
    from .services.retention import enrolment_attempts_purge, job_records_purge

    return {**job_records_purge(), "enrolment_attempts": enrolment_attempts_purge()}
