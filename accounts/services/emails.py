"""The accounts e-mails: rendered in the current language and queued through ``core.mail``.

``mail_queue`` is called inside the service's transaction: the outbox row commits (or rolls back)
with the change, and the one e-mail task sends it after the commit, so a mail server outage never
turns a committed write into an error page.
"""

from __future__ import annotations

from typing import Any

from core.mail import email_queue, email_render

from ..models import Company, Membership, Role


def mail_queue(*, template: str, recipients: list[str], context: dict[str, Any]) -> None:
    """Render ``accounts/email/<template>_subject.txt`` / ``_body.txt`` and queue it for after the commit."""
    recipients = sorted({r for r in recipients if r})
    if not recipients:
        return
    subject, body = email_render(f"accounts/email/{template}", context)
    email_queue(to=recipients, subject=subject, body=body)


def company_admin_emails(company: Company) -> list[str]:
    """The e-mail addresses of the company's active Administrators."""
    return list(
        Membership.objects.filter(company=company, role=Role.ADMINISTRATOR, user__is_active=True).values_list(
            "user__email", flat=True
        )
    )
