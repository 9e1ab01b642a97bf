"""Every e-mail the portal sends goes through here: one outbox row, one Celery task, after the commit.

``email_queue()`` is called inside the service's transaction. It writes an ``OutgoingEmail`` row
and schedules ``core.email_send`` for after the commit (``core.queue.enqueue_on_commit``):

- a write that rolls back sends nothing (the row goes with it);
- a mail server or broker that is down never turns a committed write into an error page: the
  request only wrote a row, and the task retries with back-off;
- nothing is lost: ``core.emails_requeue`` (Celery beat, every few minutes) queues again the rows
  still unsent, so an e-mail whose message never reached the broker is sent once it is back.

Delivery is at least once and, short of a crash between the SMTP reply and the commit, once:
``email_deliver`` holds the row's lock while it sends and stamps ``sent_at`` in that transaction,
and a second task for the same row skips it.

Subjects and bodies are rendered by the caller in the recipient's language (``email_render``).
"""

from __future__ import annotations

import base64
import datetime
import logging
from collections.abc import Iterable, Sequence

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone, translation

from .models import OutgoingEmail
from .queue import enqueue, enqueue_on_commit

logger = logging.getLogger(__name__)

# The sweep stops trying a message after this many failed sends (it stays in the admin with its error).
MAX_ATTEMPTS = 20


def email_render(template_prefix: str, context: dict, *, language: str | None = None) -> tuple[str, str]:
    """``(subject, body)`` from ``<template_prefix>_subject.txt`` and ``_body.txt`` in ``language``."""
    language = language or translation.get_language() or settings.LANGUAGE_CODE
    with translation.override(language):
        subject = " ".join(render_to_string(f"{template_prefix}_subject.txt", context).split())
        body = render_to_string(f"{template_prefix}_body.txt", context)
    return subject, body


def email_queue(
    *,
    to: str | Iterable[str],
    subject: str,
    body: str,
    attachments: Sequence[tuple[str, bytes, str]] = (),
) -> OutgoingEmail | None:
    """Put one e-mail in the outbox and send it after the commit; None when there is no recipient.

    ``attachments`` are ``(filename, content, mimetype)``. Call it inside the transaction of the
    change the e-mail is about.
    """
    recipients = sorted(
        {address.strip() for address in ([to] if isinstance(to, str) else to) if address and address.strip()}
    )
    if not recipients:
        return None
    email = OutgoingEmail.objects.create(
        to=recipients,
        subject=str(subject),
        body=str(body),
        attachments=[
            {"filename": name, "mimetype": mimetype, "content": base64.b64encode(content).decode("ascii")}
            for name, content, mimetype in attachments
        ],
    )
    from .tasks import email_send_task

    enqueue_on_commit(email_send_task, email.pk)
    return email


def email_send_now(
    *, to: str | Iterable[str], subject: str, body: str, attachments: Sequence[tuple[str, bytes, str]] = ()
) -> bool:
    """Write the e-mail to the outbox and deliver it now, inside the caller's transaction.

    Only for a Celery task that keeps its own durable marker (``Payment.receipt_sent_at``,
    ``AutoPayAttempt.notice_sent_at``, ``WebhookAnomaly.alerted_at``) and stamps it in the same
    transaction: the outbox row, the delivery and the marker stand or fall together. A mail server
    that refuses raises here, the caller's transaction (row and marker) rolls back, and the
    marker's sweep tries again later. The ``core.email_send`` task queued on commit then finds
    the row sent and does nothing. False when there is no recipient.
    """
    email = email_queue(to=to, subject=subject, body=body, attachments=attachments)
    if email is None:
        return False
    email_deliver(email.pk)
    return True


def email_deliver(email_id: int) -> bool:
    """Send one outbox row if it is still unsent; True when this call sent it.

    Raises the mail server's error after recording it, so the task can retry.
    """
    failure = None
    with transaction.atomic():
        email = (
            OutgoingEmail.objects.select_for_update(skip_locked=True).filter(pk=email_id, sent_at__isnull=True).first()
        )
        if email is None:
            return False  # sent already, or being sent by another worker right now
        message = EmailMessage(email.subject, email.body, settings.DEFAULT_FROM_EMAIL, email.to)
        for item in email.attachments:
            message.attach(item["filename"], base64.b64decode(item["content"]), item["mimetype"])
        try:
            message.send(fail_silently=False)
        except Exception as error:  # noqa: BLE001 - recorded below, then raised for the task's retry
            failure = error
        else:
            email.sent_at = timezone.now()
            email.attempts += 1
            email.last_error = ""
            email.save(update_fields=["sent_at", "attempts", "last_error"])
    if failure is not None:
        # Outside the lock's transaction, so the record stays whatever the caller does next.
        OutgoingEmail.objects.filter(pk=email_id).update(attempts=F("attempts") + 1, last_error=repr(failure)[:2000])
        logger.warning("E-mail %s not sent: %r; tried again later", email_id, failure)
        raise failure
    return True


def emails_requeue(*, older_than: datetime.timedelta = datetime.timedelta(minutes=2)) -> int:
    """Queue again the e-mails still unsent some time after they were written; returns how many."""
    from .tasks import email_send_task

    due = OutgoingEmail.objects.filter(
        sent_at__isnull=True, attempts__lt=MAX_ATTEMPTS, created_at__lte=timezone.now() - older_than
    ).values_list("pk", flat=True)
    return sum(enqueue(email_send_task, pk) for pk in due.order_by("created_at", "pk"))
