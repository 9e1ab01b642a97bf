"""Reads for payments, already scoped to what the user may see."""

from __future__ import annotations

import datetime

from django.db.models import Prefetch, Q, QuerySet

from accounts.access import Action, role_allows
from accounts.models import Company, Membership, Role, ShippingAccount
from accounts.selectors import account_list_visible
from invoices.models import Invoice, InvoiceStatus
from invoices.selectors import invoice_list_visible

from .models import Payment, PaymentAllocation, PaymentMethod, ShippingAccountPaymentOption


def company_list_for_action(*, user, action: Action) -> list[Company]:
    """Companies where the user's role allows ``action`` (wallet, pay), by name."""
    if not getattr(user, "is_authenticated", False):
        return []
    memberships = Membership.objects.filter(user=user).select_related("company").order_by("company__name", "id")
    return [m.company for m in memberships if role_allows(m.role, action)]


def payment_method_list(*, company: Company) -> QuerySet[PaymentMethod]:
    return PaymentMethod.objects.filter(company=company).order_by("-is_default", "nickname", "id")


def payment_method_get(*, user, method_id: int, action: Action = Action.WALLET) -> PaymentMethod | None:
    """A wallet entry of a company where the user may ``action``; None otherwise (404)."""
    companies = [c.id for c in company_list_for_action(user=user, action=action)]
    return PaymentMethod.objects.select_related("company").filter(pk=method_id, company_id__in=companies).first()


def wallet_split(methods, *, today: datetime.date) -> tuple[list[PaymentMethod], list[PaymentMethod]]:
    """(current, expired): a card is expired after the last day of its expiry month."""
    current, expired = [], []
    for method in methods:
        if method.exp_year and method.exp_month and (method.exp_year, method.exp_month) < (today.year, today.month):
            expired.append(method)
        else:
            current.append(method)
    return current, expired


def payment_list_visible(*, user) -> QuerySet[Payment]:
    """Payments covering at least one invoice the user may see (Pay Now payments on them included)."""
    if not getattr(user, "is_authenticated", False):
        return Payment.objects.none()
    visible = invoice_list_visible(user=user).values("id")
    return Payment.objects.filter(id__in=PaymentAllocation.objects.filter(invoice_id__in=visible).values("payment_id"))


def payment_history(*, user, status: str = "") -> QuerySet[Payment]:
    """The history page: every row with its method and the invoices it covered, in constant queries."""
    queryset = payment_list_visible(user=user)
    if status:
        queryset = queryset.filter(status=status)
    return (
        queryset.select_related("method", "company")
        .prefetch_related(
            Prefetch(
                "allocations",
                queryset=PaymentAllocation.objects.select_related("invoice").order_by("invoice__number"),
            )
        )
        .order_by("-created_at", "-id")
    )


def payment_get_visible(*, user, reference: str) -> Payment | None:
    if "\x00" in reference:  # PostgreSQL cannot compare text holding NUL: no such payment
        return None
    return (
        payment_list_visible(user=user)
        .select_related("method", "company", "created_by")
        .prefetch_related(
            Prefetch(
                "allocations",
                queryset=PaymentAllocation.objects.select_related(
                    "invoice", "invoice__account", "invoice__plan"
                ).order_by("invoice__number"),
            )
        )
        .filter(reference=reference)
        .first()
    )


def payment_get_public(*, reference: str) -> Payment | None:
    """Pay Now's own receipt (the view checks the reference is the one in the session)."""
    if "\x00" in reference:  # PostgreSQL cannot compare text holding NUL: no such payment
        return None
    return (
        Payment.objects.prefetch_related(
            Prefetch(
                "allocations",
                queryset=PaymentAllocation.objects.select_related("invoice", "invoice__account").order_by(
                    "invoice__number"
                ),
            )
        )
        .filter(reference=reference)
        .first()
    )


def invoice_list_payable(*, user) -> QuerySet[Invoice]:
    """Open invoices the user may pay (Payer, Manager, Administrator in scope), soonest due first."""
    pay_companies = [c.id for c in company_list_for_action(user=user, action=Action.PAY)]
    return (
        invoice_list_visible(user=user)
        .filter(status=InvoiceStatus.OPEN)
        .filter(Q(account__company_id__in=pay_companies) | Q(plan__company_id__in=pay_companies))
        .select_related("account", "plan")
        .order_by("due_date", "number")
    )


def invoice_list_selected(*, user, numbers: list[str]) -> QuerySet[Invoice]:
    return (
        invoice_list_visible(user=user)
        .filter(number__in=numbers)
        .select_related("account", "plan", "account__company", "plan__company")
        .order_by("due_date", "number")
    )


def account_list_administered(*, user) -> QuerySet[ShippingAccount]:
    """Shipping accounts where the user is an Administrator or Manager (R11), with their linked card."""
    if not getattr(user, "is_authenticated", False):
        return ShippingAccount.objects.none()
    companies = Membership.objects.filter(user=user, role__in=(Role.ADMINISTRATOR, Role.MANAGER)).values("company_id")
    return (
        account_list_visible(user=user)
        .filter(company_id__in=companies)
        .select_related("company")
        .prefetch_related(
            Prefetch(
                "payment_option",
                queryset=ShippingAccountPaymentOption.objects.select_related("method"),
            )
        )
        .order_by("number")
    )


def payment_option_for(account: ShippingAccount):
    try:
        return account.payment_option
    except ShippingAccountPaymentOption.DoesNotExist:
        return None


def credit_invoices_for(invoices) -> list[Invoice]:
    """Invoices in credit (negative balance) of the same accounts/plans and currencies; used first."""
    invoices = list(invoices)
    accounts = {i.account_id for i in invoices if i.account_id}
    plans = {i.plan_id for i in invoices if i.plan_id}
    currencies = {i.currency for i in invoices}
    if not invoices:
        return []
    return list(
        Invoice.objects.filter(status=InvoiceStatus.CREDIT, currency__in=currencies, amount_paid__gt=0)
        .filter(Q(account_id__in=accounts) | Q(plan_id__in=plans))
        .exclude(id__in=[i.id for i in invoices])
        .order_by("id")
    )
