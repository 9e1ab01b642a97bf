"""The e-mails to a dispute's filer (filed, a status change, a staff reply), through ``core.mail``.

``dispute_notify`` is called inside the transaction of the change: it renders the e-mail in the
filer's language and puts it in the outbox, which commits (or rolls back) with the change; the one
e-mail task sends it after the commit, so a mail outage never undoes or fails a committed decision.
"""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from core.mail import email_queue, email_render

from ..models import Dispute, DisputeMessage


def dispute_notify(*, dispute_id: int, kind: str, message_id: int | None = None) -> None:
    """E-mail the filer about their dispute (filed, a status change, a staff reply), in their language."""
    dispute = (
        Dispute.objects.select_related("invoice", "filed_by", "invoice__account", "invoice__plan")
        .filter(pk=dispute_id)
        .first()
    )
    if dispute is None or not dispute.filed_by.email:
        return
    message = None
    if message_id is not None:
        message = DisputeMessage.objects.filter(pk=message_id, dispute=dispute, internal=False).first()
        if message is None:
            return
    path = reverse("disputes:detail", args=[dispute.reference])
    context = {
        "dispute": dispute,
        "kind": kind,
        "message": message,
        "url": getattr(settings, "SITE_URL", "").rstrip("/") + path,
        "support_phone": settings.BILLING_SUPPORT_PHONE,
    }
    subject, body = email_render(
        "disputes/email/dispute_notice", context, language=dispute.language or settings.LANGUAGE_CODE
    )
    email_queue(to=dispute.filed_by.email, subject=subject, body=body)
