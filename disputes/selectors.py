"""Reads for disputes, scoped through the invoices the user may see.

A dispute is visible to whoever may see its invoice (Action.VIEW), whatever their
role; filing needs Action.DISPUTE, checked by views and services. Internal notes
never leave these selectors for customers.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Prefetch, Q, QuerySet

from invoices.models import Invoice, InvoiceLine
from invoices.selectors import invoice_list_visible

from .models import OPEN_DISPUTE_STATUSES, Dispute, DisputeAttachment, DisputeItem, DisputeMessage, DisputeStatus


def dispute_list_visible(*, user) -> QuerySet[Dispute]:
    if not getattr(user, "is_authenticated", False):
        return Dispute.objects.none()
    return Dispute.objects.filter(invoice__in=invoice_list_visible(user=user).values("id"))


def dispute_list(*, user, filters: dict | None = None) -> QuerySet[Dispute]:
    """The disputes list page: newest first, with invoice and filer; constant query count."""
    filters = filters or {}
    queryset = dispute_list_visible(user=user)
    status = filters.get("status")
    if status == "open":
        queryset = queryset.filter(status__in=OPEN_DISPUTE_STATUSES)
    elif status:
        queryset = queryset.filter(status=status)
    search = (filters.get("q") or "").strip()
    if search:
        queryset = queryset.filter(
            Q(reference__icontains=search)
            | Q(invoice__number__icontains=search)
            | Q(invoice__account__number__icontains=search)
            | Q(invoice__plan__number__icontains=search)
        )
    if filters.get("invoice"):
        queryset = queryset.filter(invoice__number=filters["invoice"])
    return queryset.select_related("invoice", "invoice__account", "invoice__plan", "filed_by").order_by(
        "-created_at", "-id"
    )


def dispute_get_visible(*, user, reference: str) -> Dispute | None:
    """The dispute page: items with lines and shipments, public messages only, attachments, timeline.

    Messages are in ``public_messages``; internal notes are not loaded at all.
    """
    if "\x00" in reference:  # PostgreSQL cannot compare text holding NUL: no such dispute
        return None
    return (
        dispute_list_visible(user=user)
        .filter(reference=reference)
        .select_related(
            "invoice",
            "invoice__account",
            "invoice__plan",
            "invoice__account__company",
            "invoice__plan__company",
            "filed_by",
            "credit_line",
        )
        .prefetch_related(
            Prefetch(
                "items",
                queryset=DisputeItem.objects.select_related("line", "line__shipment").order_by("id"),
            ),
            Prefetch(
                "messages",
                queryset=DisputeMessage.objects.filter(internal=False)
                .select_related("author")
                .order_by("created_at", "id"),
                to_attr="public_messages",
            ),
            "attachments",
            "events",
        )
        .first()
    )


def dispute_attachment_get(*, reference: str, pk: int) -> DisputeAttachment | None:
    """An attachment of the dispute ``reference`` (with its invoice); the caller checks who may see it."""
    return (
        DisputeAttachment.objects.select_related("dispute__invoice").filter(pk=pk, dispute__reference=reference).first()
    )


def dispute_invoice_for_filing(*, user, number: str) -> Invoice | None:
    """The invoice to dispute, if the user may see it (the view then checks Action.DISPUTE)."""
    return (
        invoice_list_visible(user=user)
        .select_related("account", "plan", "account__company", "plan__company")
        .filter(number=number)
        .first()
    )


def dispute_invoices_for_filing(*, user, numbers: list[str]) -> list[Invoice]:
    return list(
        invoice_list_visible(user=user)
        .select_related("account", "plan", "account__company", "plan__company")
        .filter(number__in=numbers)
        .order_by("number")
    )


@dataclass
class DisputableLine:
    line: InvoiceLine
    # The open dispute already covering this charge, if any (it cannot be disputed twice).
    open_reference: str | None


def dispute_lines_for_filing(*, invoice: Invoice) -> tuple[list[DisputableLine], dict]:
    """The invoice's charges (positive lines) with the open dispute covering each, in two queries.

    Returns (lines, open) where ``open`` maps ``None`` to the reference of an open whole-invoice
    dispute, if there is one.
    """
    open_items = DisputeItem.objects.filter(
        dispute__invoice=invoice, dispute__status__in=OPEN_DISPUTE_STATUSES
    ).values_list("line_id", "dispute__reference")
    covering = dict(open_items)
    lines = [
        DisputableLine(line=line, open_reference=covering.get(line.id))
        for line in invoice.lines.select_related("shipment")
        .filter(amount__gt=0)
        .order_by("shipment__ship_date", "shipment__tracking_number", "position", "id")
    ]
    return lines, covering


def dispute_list_for_invoice(*, invoice: Invoice) -> QuerySet[Dispute]:
    return Dispute.objects.filter(invoice=invoice).order_by("-created_at", "-id")


def dispute_age_days(dispute: Dispute, today: datetime.date) -> int:
    from django.utils import timezone

    return (today - timezone.localtime(dispute.created_at).date()).days


@dataclass(frozen=True)
class DisputeSummary:
    open_count: int
    credit_by_currency: list[tuple[str, Decimal]]


def dispute_summary(*, user) -> DisputeSummary:
    """Open disputes and credit granted per currency over the user's scope (the list page header)."""
    from django.db.models import Count, Sum

    visible = dispute_list_visible(user=user)
    open_count = visible.filter(status__in=OPEN_DISPUTE_STATUSES).count()
    rows = (
        visible.filter(credit_granted__gt=0)
        .exclude(status=DisputeStatus.SUBMITTED)
        .order_by()
        .values("invoice__currency")
        .annotate(credit=Sum("credit_granted"), n=Count("id"))
        .order_by("invoice__currency")
    )
    return DisputeSummary(
        open_count=open_count,
        credit_by_currency=[(row["invoice__currency"], row["credit"]) for row in rows],
    )
