"""New-invoice notices: one e-mail per user who asked for them, listing the new invoices they see."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Q
from django.urls import reverse

from accounts.models import Membership, Role
from core.mail import email_queue, email_render

from ..models import Invoice


def new_invoice_recipients(invoice: Invoice) -> list:
    """Users who see the invoice's account or plan and asked to be told of new invoices."""
    billable = invoice.billable
    if billable.company_id is None:
        return []
    scope = Q(accounts=billable.id) if invoice.account_id else Q(plans=billable.id)
    memberships = (
        Membership.objects.filter(company_id=billable.company_id, notify_new_invoices=True, user__is_active=True)
        .filter(Q(role=Role.ADMINISTRATOR) | scope)
        .select_related("user")
        .distinct()
    )
    return [m.user for m in memberships if m.user.email]


def new_invoice_notices_queue(*, invoice_ids: list[int]) -> int:
    """Put one e-mail per user listing the new invoices they see in the outbox (``core.mail``);
    call it in the import's transaction: they are sent once it commits. Returns how many."""
    invoices = list(Invoice.objects.filter(id__in=invoice_ids).select_related("account", "plan").order_by("number"))
    by_user: dict[int, tuple] = {}
    for invoice in invoices:
        for user in new_invoice_recipients(invoice):
            by_user.setdefault(user.id, (user, []))[1].append(invoice)
    base = getattr(settings, "SITE_URL", "").rstrip("/")
    queued = 0
    for user, items in by_user.values():
        context = {
            "user": user,
            "invoices": [
                {"invoice": inv, "url": base + reverse("invoices:detail", args=[inv.number])} for inv in items
            ],
        }
        subject, body = email_render("invoices/email/invoice_new", context, language=settings.LANGUAGE_CODE)
        queued += email_queue(to=user.email, subject=subject, body=body) is not None
    return queued
