"""Retention of gateway webhook events (docs/operations.md, "Retention").

A stored event is the guard that applies a redelivered event once (``WebhookEvent.event_id`` is
unique): it is kept well past the gateway's redelivery period (Stripe retries for 3 days) and then
deleted, once processed. Events not processed (an error staff may replay) and events behind a
``WebhookAnomaly`` (evidence for a payment that does not match) are kept. Payments themselves
are never purged: they are tax records.
"""

from __future__ import annotations

import logging

from django.conf import settings

from core.retention import delete_in_batches, retention_cutoff

from ..models import WebhookEvent

logger = logging.getLogger(__name__)


def webhook_events_purge(*, days: int | None = None) -> int:
    """Delete processed webhook events received more than ``days`` ago (``BC_WEBHOOK_EVENT_RETENTION_DAYS``)."""
    cutoff = retention_cutoff(settings.BC_WEBHOOK_EVENT_RETENTION_DAYS if days is None else days)
    if cutoff is None:
        return 0
    old = WebhookEvent.objects.filter(received_at__lt=cutoff, processed_at__isnull=False, anomalies__isnull=True)
    deleted = delete_in_batches(old)
    logger.info("retention: %s webhook events older than %s deleted", deleted, cutoff.date())
    return deleted
