"""Reads of invoices and shipments, already scoped to what the user may see; one invoice for
this user with the user's role (``invoice_for_user``)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import OuterRef, Prefetch, Q, QuerySet
from django.db.models.functions import Coalesce

from accounts.access import Action, role_allows, role_subquery
from accounts.models import BillingPlan
from accounts.selectors import account_list_visible, plan_list_visible

from ..models import ExportJob, Invoice, InvoiceLine, Shipment


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


def billables_visible(*, user, kind: str) -> list[tuple[int, str, str]]:
    """(id, number, name) of the accounts or plans the user may see."""
    source = plan_list_visible(user=user) if kind == "plan" else account_list_visible(user=user)
    return list(source.values_list("id", "number", "name"))


def billable_choices(billables: list[tuple[int, str, str]]) -> list[tuple[str, str]]:
    """(number, label) for the table's account or plan filter."""
    return [(number, f"{number} · {name}") for _id, number, name in billables]


def billable_choices_visible(*, user, kind: str) -> list[tuple[str, str]]:
    """(number, label) of the accounts or plans the user may see, for the table's filter."""
    return billable_choices(billables_visible(user=user, kind=kind))


def _with_document_data(queryset: QuerySet[Invoice]) -> QuerySet[Invoice]:
    return queryset.select_related(
        "account", "plan", "account__company", "plan__company", "account__plan"
    ).prefetch_related(
        Prefetch(
            "lines",
            queryset=InvoiceLine.objects.select_related("shipment", "shipment__account").order_by("position", "id"),
        )
    )


def invoice_list_for_export(*, user, numbers=None, ids=None) -> QuerySet[Invoice]:
    """Visible invoices with what every format needs (lines, shipments, account or plan)."""
    queryset = invoice_list_visible(user=user)
    if numbers is not None:
        queryset = queryset.filter(number__in=list(numbers))
    if ids is not None:
        queryset = queryset.filter(id__in=list(ids))
    return _with_document_data(queryset).order_by("number")


def shipment_history(*, user, filters: dict) -> QuerySet[Shipment]:
    """Shipping history (R22): the user's shipments, each with the visible invoices that billed it."""
    queryset = shipment_list_visible(user=user)
    tracking = (filters.get("tracking") or "").strip()
    if tracking:
        queryset = queryset.filter(tracking_number__icontains=tracking)
    if filters.get("account"):
        queryset = queryset.filter(account__number=filters["account"])
    if filters.get("ship_date_from"):
        queryset = queryset.filter(ship_date__gte=filters["ship_date_from"])
    if filters.get("ship_date_to"):
        queryset = queryset.filter(ship_date__lte=filters["ship_date_to"])
    billing_lines = (
        InvoiceLine.objects.filter(invoice__in=invoice_list_visible(user=user).values("id"))
        .select_related("invoice")
        .order_by("invoice__invoice_date", "id")
    )
    return (
        queryset.select_related("account")
        .prefetch_related(Prefetch("lines", queryset=billing_lines, to_attr="billing_lines"))
        .order_by("-ship_date", "tracking_number")
    )


# --- One invoice, for this user, with the user's role --------------------------------------


@dataclass(frozen=True)
class InvoiceAccess:
    """An invoice in the user's scope and the user's role in its company (``accounts.access``).

    For an invoice the scoped selector found, that role is what ``accounts.access.require``
    would find: the scope already holds the account or plan, so the company membership decides.
    """

    invoice: Invoice
    role: str
    # What the caller asked to do with it (``allowed`` answers it).
    action: Action

    def can(self, action: Action) -> bool:
        return role_allows(self.role, action)

    @property
    def allowed(self) -> bool:
        return self.can(self.action)

    @property
    def can_pay(self) -> bool:
        return self.can(Action.PAY)

    @property
    def can_dispute(self) -> bool:
        return self.can(Action.DISPUTE)

    @property
    def can_download(self) -> bool:
        return self.can(Action.DOWNLOAD)

    @property
    def can_manage(self) -> bool:
        return self.can(Action.MANAGE_ACCOUNTS)


def invoice_for_user(*, user, number: str, action: Action, today: datetime.date | None = None) -> InvoiceAccess | None:
    """The invoice ``number`` for ``user``, with what the user may do with it; None outside the
    user's scope (the view answers 404; ``access.allowed`` False: 403).

    One query for the invoice, its account or plan and company and the user's role, one for its
    lines and shipments (what every page and format of one invoice shows). With ``today`` the
    invoice also carries ``display_status`` and ``disputed`` (the detail page).
    """
    role = role_subquery(user, Coalesce(OuterRef("account__company_id"), OuterRef("plan__company_id")))
    queryset = invoice_list_for_export(user=user, numbers=[number]).annotate(user_role=role)
    if today is not None:
        queryset = queryset.with_display_status(today).with_disputed()
    invoice = queryset.first()
    if invoice is None:
        return None
    return InvoiceAccess(invoice=invoice, role=invoice.user_role or "", action=action)


def invoice_ids_visible(*, user, numbers) -> list[int]:
    """The ids of the visible invoices among ``numbers`` (fewer ids than numbers: some are not)."""
    return list(invoice_list_visible(user=user).filter(number__in=list(numbers)).values_list("id", flat=True))


def shipment_account_choices(*, user) -> list[tuple[str, str]]:
    """(number, label) of the accounts the user may see, for the shipping history's filter."""
    return [
        (number, f"{number} · {name}") for number, name in account_list_visible(user=user).values_list("number", "name")
    ]


def export_job_get(*, user, job_id) -> ExportJob | None:
    """The user's own export job (nobody else's, not even a colleague's), else None."""
    return ExportJob.objects.filter(pk=job_id, owner=user).first()


def invoice_of_billable(billable, number: str) -> Invoice | None:
    """The invoice numbered ``number`` (case-insensitive) of the account or plan ``billable``.

    Enrolment checks a person's invoice against it (R25, R27): accounts asks through
    ``accounts.registry.enrolment_invoices``, filled in ``InvoicesConfig.ready()``.
    """
    field = "plan" if isinstance(billable, BillingPlan) else "account"
    return Invoice.objects.filter(**{field: billable, "number__iexact": number}).first()
