"""What AutoPay tells people: the notice of an attempt (over the limit, method missing, declined)
and the reminder that a card used by AutoPay expires soon. Every e-mail goes through ``core.mail``.

A notice is due when its attempt is written (``notice_due``, in the run's transaction) and queued
after the commit (``autopay_notice_schedule``). Its task (``autopay_notice_deliver``) locks the
attempt, puts the notice in the outbox, sends it and stamps ``notice_sent_at`` in one transaction
(``email_send_now``): a mail server that refuses leaves the marker empty, and the sweep
(``autopay_notices_requeue``, every 5 minutes) queues it again. Never two notices for one attempt.
"""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from core.mail import email_queue, email_render, email_send_now
from core.money import format_money
from core.queue import enqueue, enqueue_on_commit

from ..models import CARD_KINDS, AutoPayAttempt, AutoPaySchedule, CardExpiryReminder, PaymentMethod
from .rules import EXPIRY_REMINDER_DAYS, LIVE, MAX_RETRIES, card_last_day
from .selectors import autopay_recipients

logger = logging.getLogger(__name__)

NOTICE_REQUEUE_AFTER = datetime.timedelta(minutes=5)
NOTICE_REQUEUE_WITHIN = datetime.timedelta(days=3)


def _site_url(path: str) -> str:
    return getattr(settings, "SITE_URL", "").rstrip("/") + path


def autopay_notice_schedule(attempt_id: int) -> None:
    """Queue the attempt's notice after the commit (``notice_due`` is set in the same transaction)."""
    from ..tasks import autopay_notice_send_task

    enqueue_on_commit(autopay_notice_send_task, attempt_id)


def autopay_notice_deliver(*, attempt_id: int) -> bool:
    """Send one attempt's notice once and mark it sent (the task behind every AutoPay notice).

    The attempt's row is locked while the notice goes out and skipped when another worker holds
    it, so the original message and a sweep's copy never send two notices; a failure to send
    leaves the marker empty (and no outbox row) and the sweep tries again.
    """
    with transaction.atomic():
        attempt = (
            AutoPayAttempt.objects.select_for_update(of=("self",), skip_locked=True)
            .filter(pk=attempt_id, notice_due=True, notice_sent_at__isnull=True)
            .first()
        )
        if attempt is None:
            return False  # sent already, being sent by another worker, or nothing to tell
        sent = autopay_notice_send(attempt_id=attempt.pk)
        if sent:
            AutoPayAttempt.objects.filter(pk=attempt.pk).update(notice_sent_at=timezone.now())
        return sent


def autopay_notices_requeue(*, older_than: datetime.timedelta = NOTICE_REQUEUE_AFTER) -> int:
    """Queue again the notices not out yet (the broker or the mail server was down); how many."""
    from ..tasks import autopay_notice_send_task

    now = timezone.now()
    due = (
        AutoPayAttempt.objects.filter(
            notice_due=True,
            notice_sent_at__isnull=True,
            created_at__lte=now - older_than,
            created_at__gte=now - NOTICE_REQUEUE_WITHIN,
        )
        .order_by("created_at", "id")
        .values_list("id", flat=True)
    )
    return sum(enqueue(autopay_notice_send_task, attempt_id) for attempt_id in due)


def autopay_notice_send(*, attempt_id: int) -> bool:
    """The over-limit notice or the failure notice of one attempt, with a link to pay once: put in
    the outbox and sent now; False when there is nobody to tell or the mail server refused."""
    attempt = AutoPayAttempt.objects.select_related(
        "schedule__company", "schedule__account", "schedule__plan", "schedule__method", "invoice"
    ).get(pk=attempt_id)
    schedule = attempt.schedule
    recipients = autopay_recipients(schedule)
    if not recipients:
        return False
    invoice = attempt.invoice
    context = {
        "attempt": attempt,
        "schedule": schedule,
        "billable": schedule.account or schedule.plan,
        "invoice": invoice,
        "amount": format_money(attempt.amount or invoice.balance, invoice.currency),
        "limit": format_money(schedule.limit_amount, invoice.currency) if schedule.limit_amount else "",
        "retries_left": max(0, MAX_RETRIES + 1 - attempt.attempt_no),
        "pay_url": _site_url(reverse("payments:pay") + f"?invoice={invoice.number}"),
        "autopay_url": _site_url(reverse("payments:autopay")),
        "wallet_url": _site_url(reverse("payments:wallet") + f"?company={schedule.company_id}"),
    }
    subject, body = email_render("payments/email/autopay_notice", context, language=settings.LANGUAGE_CODE)
    try:
        with transaction.atomic():
            return email_send_now(to=recipients, subject=subject, body=body)
    except Exception:  # noqa: BLE001 - a mail outage must not undo a committed attempt
        logger.exception("AutoPay notice for attempt %s failed", attempt_id)
        return False


# --- Card expiry reminders ---------------------------------------------------------------------


def card_expiry_reminders_send(*, today: datetime.date | None = None, recorder=None) -> int:
    """E-mail the payers once when a card used by a live AutoPay expires within 30 days.

    The reminder row (once per card and expiry date) and its e-mail (the outbox) are written in
    one transaction; the e-mail goes out after the commit.
    """
    today = today or timezone.localdate()
    methods = (
        PaymentMethod.objects.filter(
            kind__in=CARD_KINDS,
            exp_month__isnull=False,
            exp_year__isnull=False,
            autopay_schedules__status__in=(AutoPaySchedule.Status.ACTIVE, AutoPaySchedule.Status.PAUSED),
        )
        .distinct()
        .select_related("company")
        .order_by("id")
    )
    sent = 0
    for method in methods:
        if recorder is not None:
            recorder.heartbeat()  # alive: renews the run's lease now and then
        last_day = card_last_day(method)
        if last_day is None or not (today <= last_day <= today + datetime.timedelta(days=EXPIRY_REMINDER_DAYS)):
            continue
        schedules = list(
            method.autopay_schedules.filter(LIVE).select_related("company", "account", "plan").order_by("id")
        )
        recipients: list[str] = []
        for schedule in schedules:
            for email in autopay_recipients(schedule):
                if email not in recipients:
                    recipients.append(email)
        context = {
            "method": method,
            "last_day": last_day,
            "billables": [str(s.account or s.plan) for s in schedules],
            "edit_url": _site_url(reverse("payments:wallet_edit", args=[method.id])),
            "autopay_url": _site_url(reverse("payments:autopay")),
        }
        try:
            with transaction.atomic():
                CardExpiryReminder.objects.create(
                    method=method, exp_month=method.exp_month, exp_year=method.exp_year, recipients=recipients
                )
                if recipients:
                    subject, body = email_render("payments/email/card_expiry", context, language=settings.LANGUAGE_CODE)
                    email_queue(to=recipients, subject=subject, body=body)
        except IntegrityError:
            continue  # already reminded for this expiry date
        sent += 1
    if recorder is not None:
        recorder.count("reminded", sent)
    return sent
