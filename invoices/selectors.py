"""Reads for invoices, already scoped to what the user may see."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from accounts.selectors import account_list_visible, plan_list_visible

from .models import Invoice, Shipment


def invoice_list_visible(*, user) -> QuerySet[Invoice]:
    """Every invoice of the accounts and plans in the user's scope."""
    if not getattr(user, "is_authenticated", False):
        return Invoice.objects.none()
    return Invoice.objects.filter(
        Q(account__in=account_list_visible(user=user).values("id"))
        | Q(plan__in=plan_list_visible(user=user).values("id"))
    )


def invoice_get_visible(*, user, number: str) -> Invoice | None:
    """The invoice with this number if the user may see it, else None (the view answers 404)."""
    return (
        invoice_list_visible(user=user)
        .select_related("account", "plan", "account__company", "plan__company")
        .filter(number=number)
        .first()
    )


def shipment_list_visible(*, user) -> QuerySet[Shipment]:
    if not getattr(user, "is_authenticated", False):
        return Shipment.objects.none()
    return Shipment.objects.filter(account__in=account_list_visible(user=user).values("id"))
