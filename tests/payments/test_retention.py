"""Retention of webhook events: processed ones go after N days; unprocessed ones and anomalies' stay."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from payments.models import WebhookAnomaly, WebhookEvent
from payments.tasks import webhook_events_purge_task

pytestmark = pytest.mark.django_db


def _event(n: int, *, days_ago: int, processed: bool = True) -> WebhookEvent:
    received = timezone.now() - datetime.timedelta(days=days_ago)
    event = WebhookEvent.objects.create(
        event_id=f"evt_{n}", type="payment_intent.succeeded", payload={"id": f"evt_{n}"}
    )
    WebhookEvent.objects.filter(pk=event.pk).update(
        received_at=received, processed_at=received if processed else None, error="" if processed else "boom"
    )
    return event


def test_webhook_events_purge_deletes_processed_events_past_the_retention(settings):
    settings.BC_WEBHOOK_EVENT_RETENTION_DAYS = 90
    old_processed = _event(1, days_ago=91)
    recent_processed = _event(2, days_ago=89)
    old_unprocessed = _event(3, days_ago=400, processed=False)
    old_with_anomaly = _event(4, days_ago=400)
    WebhookAnomaly.objects.create(event=old_with_anomaly, reason=WebhookAnomaly.Reason.UNKNOWN_PAYMENT)

    deleted = webhook_events_purge_task.delay().get()

    assert deleted == 1
    assert not WebhookEvent.objects.filter(pk=old_processed.pk).exists()
    assert set(WebhookEvent.objects.values_list("pk", flat=True)) == {
        recent_processed.pk,
        old_unprocessed.pk,
        old_with_anomaly.pk,
    }
    assert WebhookAnomaly.objects.count() == 1


def test_webhook_events_purge_with_zero_days_keeps_everything(settings):
    settings.BC_WEBHOOK_EVENT_RETENTION_DAYS = 0
    _event(1, days_ago=4000)

    assert webhook_events_purge_task.delay().get() == 0
    assert WebhookEvent.objects.count() == 1
