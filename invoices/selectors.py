"""Reads for invoices, already scoped to what the user may see."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, DecimalField, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, TruncMonth

from accounts.selectors import account_list_visible, plan_list_visible

from .models import Invoice, InvoiceLine, InvoiceStatus, LineKind, Shipment


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


# --- Dashboard (issue 2, item 7) and invoice detail helpers -------------------------------

DASHBOARD_RECENT_COUNT = 8
DASHBOARD_CHART_MONTHS = 12
DASHBOARD_DUE_SOON_DAYS = 7


@dataclass(frozen=True)
class CurrencyFigures:
    """The dashboard figures of one currency: amounts of different currencies are never added."""

    currency: str
    total_due: Decimal
    past_due: Decimal
    due_soon: Decimal
    late_fees_year: Decimal
    open_count: int
    past_due_count: int
    due_soon_count: int


@dataclass(frozen=True)
class ChartSeries:
    """Billed amounts (invoice totals) per invoice month, oldest month first."""

    currency: str
    points: list[tuple[datetime.date, Decimal]]


@dataclass(frozen=True)
class DashboardSummary:
    has_membership: bool
    today: datetime.date
    due_soon_until: datetime.date
    figures: list[CurrencyFigures]
    recent_invoices: list[Invoice]
    charts: list[ChartSeries]


def _month_start(day: datetime.date, months_back: int = 0) -> datetime.date:
    index = day.year * 12 + (day.month - 1) - months_back
    return datetime.date(index // 12, index % 12 + 1, 1)


def dashboard_summary(*, user, today: datetime.date) -> DashboardSummary:
    """The dashboard of ``user`` over their scope only, in five queries whatever the data size.

    - total due: balance of open invoices; past due: open and due before ``today``;
      due soon: open and due from ``today`` to ``today`` + 7 days;
    - late fees this year: late-fee lines of invoices dated in ``today``'s calendar year;
    - recent invoices: the latest 8 by invoice date;
    - chart: invoice totals per invoice month, the current month and the 11 before it.
    Every figure is per currency.
    """
    from accounts.models import Membership

    has_membership = Membership.objects.filter(user=user).exists() if user.is_authenticated else False
    visible = invoice_list_visible(user=user)
    due_soon_until = today + datetime.timedelta(days=DASHBOARD_DUE_SOON_DAYS)
    zero = Value(Decimal(0), output_field=DecimalField(max_digits=16, decimal_places=2))
    is_open = Q(status=InvoiceStatus.OPEN)
    past_due_q = is_open & Q(due_date__lt=today)
    due_soon_q = is_open & Q(due_date__gte=today, due_date__lte=due_soon_until)

    rows = (
        visible.order_by()
        .values("currency")
        .annotate(
            total_due=Coalesce(Sum("balance", filter=is_open), zero),
            past_due=Coalesce(Sum("balance", filter=past_due_q), zero),
            due_soon=Coalesce(Sum("balance", filter=due_soon_q), zero),
            open_count=Count("id", filter=is_open),
            past_due_count=Count("id", filter=past_due_q),
            due_soon_count=Count("id", filter=due_soon_q),
        )
        .order_by("currency")
    )
    year_start = datetime.date(today.year, 1, 1)
    year_end = datetime.date(today.year, 12, 31)
    late_fees = dict(
        InvoiceLine.objects.filter(
            invoice__in=visible.values("id"),
            kind=LineKind.LATE_FEE,
            invoice__invoice_date__gte=year_start,
            invoice__invoice_date__lte=year_end,
        )
        .order_by()
        .values("invoice__currency")
        .annotate(amount=Sum("amount"))
        .values_list("invoice__currency", "amount")
    )
    figures = [
        CurrencyFigures(
            currency=row["currency"],
            total_due=row["total_due"],
            past_due=row["past_due"],
            due_soon=row["due_soon"],
            late_fees_year=late_fees.get(row["currency"]) or Decimal(0),
            open_count=row["open_count"],
            past_due_count=row["past_due_count"],
            due_soon_count=row["due_soon_count"],
        )
        for row in rows
    ]

    recent_invoices = list(
        visible.select_related("account", "plan")
        .with_display_status(today)
        .order_by("-invoice_date", "-number")[:DASHBOARD_RECENT_COUNT]
    )

    first_month = _month_start(today, DASHBOARD_CHART_MONTHS - 1)
    months = [_month_start(today, back) for back in range(DASHBOARD_CHART_MONTHS - 1, -1, -1)]
    billed: dict[str, dict[datetime.date, Decimal]] = {}
    for row in (
        visible.filter(invoice_date__gte=first_month, invoice_date__lte=today)
        .order_by()
        .annotate(month=TruncMonth("invoice_date"))
        .values("currency", "month")
        .annotate(amount=Sum("total"))
    ):
        month = row["month"]
        if isinstance(month, datetime.datetime):
            month = month.date()
        billed.setdefault(row["currency"], {})[month] = row["amount"]
    charts = [
        ChartSeries(
            currency=currency,
            points=[(month, billed[currency].get(month, Decimal(0))) for month in months],
        )
        for currency in sorted(billed)
    ]
    return DashboardSummary(
        has_membership=has_membership,
        today=today,
        due_soon_until=due_soon_until,
        figures=figures,
        recent_invoices=recent_invoices,
        charts=charts,
    )


@dataclass(frozen=True)
class LineGroup:
    """Lines billing one shipment, or (``shipment`` None) the invoice's other charges."""

    shipment: Shipment | None
    lines: list[InvoiceLine]

    @property
    def subtotal(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))


def invoice_line_groups(*, invoice: Invoice) -> list[LineGroup]:
    """The invoice's lines grouped by shipment (in ship order), other charges last; one query."""
    groups: dict[int | None, LineGroup] = {}
    for line in invoice.lines.select_related("shipment").order_by(
        "shipment__ship_date", "shipment__tracking_number", "position", "id"
    ):
        group = groups.get(line.shipment_id)
        if group is None:
            group = groups[line.shipment_id] = LineGroup(shipment=line.shipment, lines=[])
        group.lines.append(line)
    other = groups.pop(None, None)
    return list(groups.values()) + ([other] if other else [])


# --- Invoice centre (issue 4): tables, detail, exports, shipping history ---------------------

# Disputes in these states mark an invoice "disputed" (disputes.models.OPEN_DISPUTE_STATUSES;
# spelled out here because invoices must not import disputes: dependencies point one way).
INVOICE_OPEN_DISPUTE_STATUSES = ("submitted", "under_review")

# The columns a table may be sorted by, and what each sorts on (a whitelist: the URL's
# ``sort`` value never reaches ``order_by`` unchecked). The primary key breaks ties.
INVOICE_SORTS: dict[str, tuple[str, ...]] = {
    "number": ("number",),
    "billable": ("account__number", "plan__number"),
    "invoice_date": ("invoice_date",),
    "due_date": ("due_date",),
    "total": ("total",),
    "balance": ("balance",),
    "status": ("display_status",),
}
INVOICE_DEFAULT_SORT = "-invoice_date"
