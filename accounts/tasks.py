"""Celery entry points for accounts; they call a service."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="accounts.jobs_watch")
def jobs_watch_task() -> int:
    """Every 15 minutes (beat): runs of dead workers are marked abandoned; late daily jobs alert staff."""
    from .jobs import jobs_watch

    return len(jobs_watch())
