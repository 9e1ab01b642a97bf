"""Celery entry points for payments; they load by id and call a service."""

from __future__ import annotations

import datetime

from celery import shared_task

from .models import Payment
from .services import payment_receipt_send, payment_reconcile


@shared_task(name="payments.payment_receipt_send")
def payment_receipt_send_task(payment_id: int) -> bool:
    payment = Payment.objects.select_related("created_by").filter(pk=payment_id).first()
    if payment is None:
        return False
    return payment_receipt_send(payment=payment)


@shared_task(name="payments.payment_reconcile")
def payment_reconcile_task(older_than_seconds: int = 60) -> int:
    """Settle processing payments by asking the gateway (run every few minutes by Celery beat)."""
    return len(payment_reconcile(older_than=datetime.timedelta(seconds=older_than_seconds)))
