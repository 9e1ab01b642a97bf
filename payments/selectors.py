"""Reads for payments, already scoped to what the user may see."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from accounts.access import Action, require, role_allows, user_can
from accounts.models import Company, Membership, Role, ShippingAccount
from accounts.selectors import account_list_visible
from invoices.models import Invoice, InvoiceStatus
from invoices.selectors import invoice_list_visible

from .models import (
    CARD_KINDS,
    MethodKind,
    Payment,
    PaymentAllocation,
    PaymentMethod,
    ShippingAccountPaymentOption,
)
from .services.attempts import attempt_in_progress, credits_for_attempt, payments_for_attempt
from .services.checks import InvoiceCheck, invoice_checks, payment_kinds_for_country, totals_by_currency


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


def payment_credits(payment: Payment):
    """The credits a payment applied (which credit invoice paid which invoice), for its receipt."""
    return payment.credit_applications.select_related("source_invoice", "target_invoice")


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


# --- The review page of a one-time payment (R5, R8, R20) ------------------------------------


@dataclass
class PayReview:
    """What the review page shows and the submit pays: the invoices the user chose, which of them
    can be paid (with why not), the totals, and the wallet methods allowed for all of them."""

    invoices: list[Invoice]
    checks: list[InvoiceCheck]
    company: Company | None  # the one paying company, None when the payable invoices mix companies
    mixed_companies: bool
    countries: list[str]
    methods: list[PaymentMethod]  # the company's methods allowed in every country, not expired
    latest_date: datetime.date | None  # the earliest due date: a payment on a date is due by then
    today: datetime.date
    credit_invoices: list[Invoice]
    may_save: bool  # may keep a new method in the wallet

    @property
    def payable(self) -> list[InvoiceCheck]:
        return [c for c in self.checks if c.payable]

    @property
    def unpayable(self) -> list[InvoiceCheck]:
        return [c for c in self.checks if not c.payable]

    @property
    def totals(self) -> list[tuple[str, Decimal]]:
        return totals_by_currency(self.checks)

    @property
    def may_schedule(self) -> bool:
        return self.latest_date is not None and self.latest_date > self.today

    @property
    def country(self) -> str:
        """The country whose payment types the new-method form offers."""
        return self.countries[0] if self.countries else "KR"

    @property
    def numbers(self) -> list[str]:
        return [invoice.number for invoice in self.invoices]


def pay_review(*, user, numbers: list[str]) -> PayReview | None:
    """The review of paying these invoice numbers; None when one is not visible to the user (404).

    Raises ``PermissionDenied`` when the user sees an invoice but may not pay it (403).
    """
    numbers = list(dict.fromkeys(n.strip().upper() for n in numbers if n.strip()))[:100]
    invoices = list(invoice_list_selected(user=user, numbers=numbers))
    if len(invoices) != len(numbers):
        return None
    for invoice in invoices:
        require(user, Action.PAY, account=invoice.account, plan=invoice.plan)
    checks = invoice_checks(invoices)
    payable = [c for c in checks if c.payable]
    companies = {c.billable.company_id for c in payable}
    company = payable[0].billable.company if len(companies) == 1 else None
    countries = sorted({c.billable.country for c in payable})
    allowed = set(MethodKind.values)
    for country in countries:
        allowed &= set(payment_kinds_for_country(country))
    today = timezone.localdate()
    methods = [m for m in payment_method_list(company=company) if m.kind in allowed] if company else []
    methods = [m for m in methods if not (m.exp_year and (m.exp_year, m.exp_month) < (today.year, today.month))]
    return PayReview(
        invoices=invoices,
        checks=checks,
        company=company,
        mixed_companies=len(companies) > 1,
        countries=countries,
        methods=methods,
        latest_date=min((c.invoice.due_date for c in payable), default=None),
        today=today,
        credit_invoices=credit_invoices_for([c.invoice for c in payable]),
        may_save=company is not None and user_can(user, Action.WALLET, company=company),
    )


@dataclass
class AttemptResult:
    """Where a confirmed attempt lands: its payments and credits the user may see, or in progress."""

    payments: list[Payment]
    credits: list
    in_progress: bool = False


def attempt_result(*, user, key: str) -> AttemptResult | None:
    """The attempt's payments and credits on invoices the user sees; in progress while the user's
    request still works on it; None when there is nothing to show (404)."""
    visible = payment_list_visible(user=user).values("id")
    payments = list(payments_for_attempt(key).filter(id__in=visible))
    credits = list(
        credits_for_attempt(key)
        .filter(target_invoice__in=invoice_list_visible(user=user).values("id"))
        .select_related("source_invoice", "target_invoice")
    )
    if payments or credits:
        return AttemptResult(payments=payments, credits=credits)
    if attempt_in_progress(idempotency_key=key, user=user):
        return AttemptResult(payments=[], credits=[], in_progress=True)
    return None


# --- Payment options (R11) and Pay Now ---------------------------------------------------------


def cards_by_company(*, company_ids) -> dict[int, list[PaymentMethod]]:
    """The cards of each company's wallet (the ones that may pay shipping charges), default first."""
    cards: dict[int, list[PaymentMethod]] = {company_id: [] for company_id in company_ids}
    for method in PaymentMethod.objects.filter(company_id__in=list(cards), kind__in=CARD_KINDS).order_by(
        "-is_default", "nickname", "id"
    ):
        cards[method.company_id].append(method)
    return cards


def pay_now_invoice(*, invoice_id) -> Invoice | None:
    """The invoice a Pay Now session found (the session holds its id), with its account."""
    return Invoice.objects.select_related("account").filter(pk=invoice_id).first()


def account_visible(*, user, number: str) -> bool:
    """Does the user see the shipping account with this number (whatever the role)?"""
    return "\x00" not in number and account_list_visible(user=user).filter(number=number).exists()
