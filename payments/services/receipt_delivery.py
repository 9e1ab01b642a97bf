"""Receipts: every succeeded payment's receipt (with its PDF) reaches the payer once.

The receipt is queued after the payment's commit (``payment_receipt_schedule``); the task
(``payment_receipt_deliver``) locks the payment, puts the receipt in the outbox, sends it and
stamps ``Payment.receipt_sent_at`` in one transaction (``core.mail.email_send_now``). When the broker
was down at the commit, or the mail server refused, the marker stays empty and the sweep
(``payment_receipts_requeue``, Celery beat) queues it again; queuing twice is harmless.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.mail import email_render, email_send_now
from core.queue import enqueue, enqueue_on_commit

from ..models import Payment, PaymentStatus
from ..receipts import receipt_context, render_receipt_pdf

# A succeeded payment whose receipt is not out after this long was not queued (or its message was
# lost): the sweep queues it again. Longer than a queued receipt normally waits for a worker.
RECEIPT_REQUEUE_AFTER = datetime.timedelta(minutes=5)
# The sweep looks back this far (a receipt days late is still worth sending; older ones are not).
RECEIPT_REQUEUE_WITHIN = datetime.timedelta(days=3)


def payment_receipt_schedule(payment_id: int) -> None:
    """Queue the receipt after the commit; a broker that is down costs nothing but a later sweep."""
    from ..tasks import payment_receipt_send_task

    enqueue_on_commit(payment_receipt_send_task, payment_id)


def payment_receipt_deliver(*, payment_id: int) -> bool:
    """Send a succeeded payment's receipt once and mark it sent (the task behind every receipt).

    The payment row is locked while the receipt goes out and skipped when another worker holds
    it, so the original message and a sweep's copy never send two receipts; a failure to send
    rolls back the outbox row with the marker, and the sweep tries again.
    """
    with transaction.atomic():
        payment = (
            Payment.objects.select_for_update(of=("self",), skip_locked=True)
            .select_related("created_by")
            .filter(pk=payment_id, status=PaymentStatus.SUCCEEDED, receipt_sent_at__isnull=True)
            .first()
        )
        if payment is None:
            return False  # sent already, being sent by another worker, or not a succeeded payment
        message = _receipt_message(payment=payment)
        sent = message is not None and email_send_now(**message)
        if sent:
            Payment.objects.filter(pk=payment.pk).update(receipt_sent_at=timezone.now())
        return sent


def _receipt_recipient_known():
    return ~Q(payer_email="") | (Q(created_by__isnull=False) & ~Q(created_by__email=""))


def payment_receipts_requeue(*, older_than: datetime.timedelta = RECEIPT_REQUEUE_AFTER) -> int:
    """Queue again the receipts of succeeded payments that are not out yet; how many were queued.

    A receipt is queued after the payment's commit (``payment_receipt_schedule``); when the broker
    was down then, or the message was lost, only this sweep (Celery beat, every few minutes) finds
    it. Queuing one twice is harmless: ``payment_receipt_deliver`` sends once.
    """
    from ..tasks import payment_receipt_send_task

    now = timezone.now()
    due = (
        Payment.objects.filter(
            status=PaymentStatus.SUCCEEDED,
            receipt_sent_at__isnull=True,
            settled_at__lte=now - older_than,
            settled_at__gte=now - RECEIPT_REQUEUE_WITHIN,
        )
        .filter(_receipt_recipient_known())
        .order_by("settled_at", "id")
        .values_list("id", flat=True)
    )
    return sum(enqueue(payment_receipt_send_task, payment_id) for payment_id in due)


def _receipt_message(*, payment: Payment, to: str = "", language: str | None = None) -> dict | None:
    """The receipt e-mail with its PDF, to the payer's address or the user who paid; None if nobody."""
    recipient = to or payment.payer_email or (payment.created_by.email if payment.created_by else "")
    if not recipient or payment.status != PaymentStatus.SUCCEEDED:
        return None
    language = language or settings.LANGUAGE_CODE
    subject, body = email_render("payments/email/receipt", receipt_context(payment), language=language)
    pdf = render_receipt_pdf(payment, language=language)
    return {
        "to": recipient,
        "subject": subject,
        "body": body,
        "attachments": [(f"receipt-{payment.reference}.pdf", pdf, "application/pdf")],
    }


def payment_receipt_send(*, payment: Payment, to: str = "", language: str | None = None) -> bool:
    """E-mail the receipt with its PDF once more (Pay Now's last step): sent now, through the outbox."""
    message = _receipt_message(payment=payment, to=to, language=language)
    if message is None:
        return False
    with transaction.atomic():
        return email_send_now(**message)
