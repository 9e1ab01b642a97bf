"""The kernel's Celery tasks: the one e-mail task and its sweep."""

from smtplib import SMTPException

from celery import shared_task

from .mail import email_deliver, emails_requeue


@shared_task(
    name="core.email_send",
    autoretry_for=(SMTPException, OSError),
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=5,
)
def email_send_task(email_id: int) -> bool:
    """Send one outbox e-mail (queued after the commit; again by the sweep if it never arrived)."""
    return email_deliver(email_id)


@shared_task(name="core.emails_requeue")
def emails_requeue_task() -> int:
    """Queue again the outbox e-mails still unsent (Celery beat, every few minutes)."""
    return emails_requeue()


@shared_task(name="core.sessions_clear")
def sessions_clear_task() -> None:
    """Delete expired sessions (Celery beat, daily): Django's ``clearsessions``."""
    from .retention import sessions_clear

    sessions_clear()


@shared_task(name="core.emails_purge")
def emails_purge_task() -> int:
    """Delete outbox e-mails sent more than BC_EMAIL_RETENTION_DAYS ago (Celery beat, daily)."""
    from .retention import outgoing_emails_purge

    return outgoing_emails_purge()
