"""Retention in core: expired sessions are cleared, sent outbox e-mails go after N days.

The beat tasks are called as beat calls them (eager Celery in tests); old rows go, new ones and
rows still owed a delivery stay.
"""

from __future__ import annotations

import datetime

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from core.models import OutgoingEmail
from core.retention import delete_in_batches
from core.tasks import emails_purge_task, sessions_clear_task

pytestmark = pytest.mark.django_db


def _email(*, created_days_ago: int, sent_days_ago: int | None) -> OutgoingEmail:
    now = timezone.now()
    email = OutgoingEmail.objects.create(to=["payer@example.com"], subject="영수증", body="...")
    OutgoingEmail.objects.filter(pk=email.pk).update(
        created_at=now - datetime.timedelta(days=created_days_ago),
        sent_at=None if sent_days_ago is None else now - datetime.timedelta(days=sent_days_ago),
    )
    return email


def test_sessions_clear_deletes_expired_sessions_and_keeps_live_ones(settings):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    live = SessionStore()
    live["user"] = "live"
    live.create()
    expired = SessionStore()
    expired["user"] = "expired"
    expired.create()
    Session.objects.filter(session_key=expired.session_key).update(
        expire_date=timezone.now() - datetime.timedelta(seconds=1)
    )

    sessions_clear_task.delay().get()

    assert list(Session.objects.values_list("session_key", flat=True)) == [live.session_key]


def test_emails_purge_deletes_sent_emails_older_than_the_retention(settings):
    settings.BC_EMAIL_RETENTION_DAYS = 30
    old_sent = _email(created_days_ago=40, sent_days_ago=31)
    recent_sent = _email(created_days_ago=40, sent_days_ago=29)
    old_unsent = _email(created_days_ago=400, sent_days_ago=None)

    deleted = emails_purge_task.delay().get()

    assert deleted == 1
    remaining = set(OutgoingEmail.objects.values_list("pk", flat=True))
    assert remaining == {recent_sent.pk, old_unsent.pk}
    assert old_sent.pk not in remaining


def test_emails_purge_with_zero_days_keeps_everything(settings):
    settings.BC_EMAIL_RETENTION_DAYS = 0
    _email(created_days_ago=4000, sent_days_ago=4000)

    assert emails_purge_task.delay().get() == 0
    assert OutgoingEmail.objects.count() == 1


def test_delete_in_batches_deletes_every_matching_row_across_batches():
    emails = [_email(created_days_ago=1, sent_days_ago=1) for _ in range(7)]
    keep = _email(created_days_ago=1, sent_days_ago=None)

    deleted = delete_in_batches(OutgoingEmail.objects.filter(sent_at__isnull=False), batch_size=3)

    assert deleted == len(emails)
    assert list(OutgoingEmail.objects.values_list("pk", flat=True)) == [keep.pk]
