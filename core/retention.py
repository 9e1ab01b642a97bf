"""Retention: rows that only grow are deleted once they have served their purpose.

What is kept how long, and why, is in docs/operations.md ("Retention"). Invoices, payments and
the audit log are never purged here: they are tax and payment records. Each app purges its own
tables (core: outbox e-mails and sessions; accounts: job runs, job alerts, enrolment attempts;
payments: webhook events) with ``delete_in_batches``, from a daily Celery beat task.
"""

from __future__ import annotations

import datetime
import logging
from importlib import import_module

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from .models import OutgoingEmail

logger = logging.getLogger(__name__)

# Rows deleted per statement: a purge never holds long locks or builds one huge transaction.
BATCH_SIZE = 5000


def retention_cutoff(days: int) -> datetime.datetime | None:
    """The moment before which rows are purged, or None when ``days`` is 0 (keep forever)."""
    if days <= 0:
        return None
    return timezone.now() - datetime.timedelta(days=days)


def delete_in_batches(queryset: QuerySet, *, batch_size: int = BATCH_SIZE) -> int:
    """Delete the rows of ``queryset`` a batch at a time (each in its own transaction); the count.

    The queryset is evaluated again for each batch, so rows that stop matching (a webhook event
    that gained an anomaly meanwhile) are left alone.
    """
    total = 0
    model = queryset.model
    while True:
        ids = list(queryset.order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not ids:
            return total
        with transaction.atomic():
            # The ORM's delete: related rows are handled as their foreign keys say (SET_NULL,
            # CASCADE, PROTECT raises), never left pointing at nothing.
            _, per_model = model._default_manager.filter(pk__in=ids).delete()
        deleted = per_model.get(model._meta.label, 0)
        total += deleted
        logger.debug("retention: %s %s rows deleted", deleted, model._meta.label)
        if len(ids) < batch_size:
            return total


def outgoing_emails_purge(*, days: int | None = None) -> int:
    """Delete outbox e-mails sent more than ``days`` ago (``BC_EMAIL_RETENTION_DAYS``).

    Unsent ones are kept whatever their age: the sweep still owes them, or staff may want to see
    why they were given up (``attempts``, ``last_error``).
    """
    cutoff = retention_cutoff(settings.BC_EMAIL_RETENTION_DAYS if days is None else days)
    if cutoff is None:
        return 0
    deleted = delete_in_batches(OutgoingEmail.objects.filter(sent_at__isnull=False, sent_at__lt=cutoff))
    logger.info("retention: %s sent outbox e-mails older than %s deleted", deleted, cutoff.date())
    return deleted


def sessions_clear() -> None:
    """Delete expired sessions (Django's ``clearsessions``, for the configured session engine)."""
    engine = import_module(settings.SESSION_ENGINE)
    engine.SessionStore.clear_expired()
    logger.info("retention: expired sessions cleared")
