"""Celery entry points for payments; they load by id and call a service."""

from __future__ import annotations

import datetime

from celery import shared_task

from .services.receipt_delivery import payment_receipt_deliver, payment_receipts_requeue
from .services.settlement import payment_reconcile


@shared_task(name="payments.payment_receipt_send")
def payment_receipt_send_task(payment_id: int) -> bool:
    """E-mail a succeeded payment's receipt once (queued after the commit, and again by the sweep)."""
    return payment_receipt_deliver(payment_id=payment_id)


@shared_task(name="payments.payment_receipts_requeue")
def payment_receipts_requeue_task() -> int:
    """Queue again the receipts that never reached the broker (run every few minutes by Celery beat)."""
    return payment_receipts_requeue()


@shared_task(name="payments.payment_reconcile")
def payment_reconcile_task(older_than_seconds: int = 60) -> int:
    """Settle processing payments by asking the gateway (run every 15 minutes by Celery beat)."""
    from accounts.jobs import job_run

    with job_run("payment_reconcile", trigger="beat") as run:
        settled = payment_reconcile(older_than=datetime.timedelta(seconds=older_than_seconds))
        for payment in settled:
            run.count(payment.status)
        from .autopay.run import autopay_attempts_sync

        run.count("autopay_attempts_synced", autopay_attempts_sync())
        return len(settled)


@shared_task(name="payments.autopay_run")
def autopay_run_task(trigger: str = "beat") -> dict:
    """The daily AutoPay run (and scheduled one-time payments), recorded as a job run."""
    from accounts.jobs import job_run

    from .autopay.run import autopay_run

    with job_run("autopay_run", trigger=trigger) as run:
        return dict(autopay_run(recorder=run))


@shared_task(name="payments.card_expiry_reminders_send")
def card_expiry_reminders_send_task(trigger: str = "beat") -> int:
    """Daily: e-mail the payers once when a card used by AutoPay expires within 30 days."""
    from accounts.jobs import job_run

    from .autopay.notices import card_expiry_reminders_send

    with job_run("card_expiry_reminders", trigger=trigger) as run:
        return card_expiry_reminders_send(recorder=run)


@shared_task(name="payments.autopay_notice_send", ignore_result=True)
def autopay_notice_send_task(attempt_id: int) -> bool:
    """One AutoPay attempt's notice to the payers, sent once (queued after the attempt's commit)."""
    from .autopay.notices import autopay_notice_deliver

    return autopay_notice_deliver(attempt_id=attempt_id)


@shared_task(name="payments.autopay_notices_requeue", ignore_result=True)
def autopay_notices_requeue_task() -> int:
    """Every 5 minutes: queue again the AutoPay notices not out yet (broker or mail server down)."""
    from .autopay.notices import autopay_notices_requeue

    return autopay_notices_requeue()


@shared_task(name="payments.webhook_events_purge")
def webhook_events_purge_task() -> int:
    """Daily (beat): processed webhook events past BC_WEBHOOK_EVENT_RETENTION_DAYS are deleted."""
    from .services.retention import webhook_events_purge

    return webhook_events_purge()
