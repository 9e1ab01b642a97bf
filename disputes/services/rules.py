"""Rules shared by the dispute services and the views: who may file online, the supervisor limit."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings

from core.exceptions import ApplicationError
from invoices.models import Invoice


class DisputeRefused(ApplicationError):
    pass


def dispute_target(invoice: Invoice) -> dict:
    """The keyword ``accounts.access`` asks about for this invoice: its account, or its plan."""
    return {"account": invoice.account} if invoice.account_id else {"plan": invoice.plan}


def dispute_online_refusal(invoice: Invoice) -> str | None:
    """Why the invoice cannot be disputed online (R21): ``"paper"``, ``"temporary"`` or None."""
    if invoice.account_id and invoice.account.is_temporary:
        return "temporary"
    billable = invoice.billable
    if billable is not None and not billable.is_paperless:
        return "paper"
    return None


def dispute_supervisor_threshold(currency: str) -> Decimal | None:
    limits = getattr(settings, "DISPUTE_SUPERVISOR_THRESHOLD", {}) or {}
    value = limits.get(currency)
    return None if value is None else Decimal(value)


def dispute_needs_supervisor(*, currency: str, credit: Decimal) -> bool:
    threshold = dispute_supervisor_threshold(currency)
    return threshold is not None and credit > threshold
