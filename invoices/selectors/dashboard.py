"""The dashboard's figures (issue 2, item 7), over the user's scope only, in a fixed number of queries."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum

from accounts.selectors import account_list_visible, plan_list_visible

from ..models import Invoice, InvoiceLine, InvoiceStatus, LineKind

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
    """The dashboard of ``user`` over their scope only, in a fixed number of queries.

    - total due: balance of open invoices; past due: open and due before ``today``;
      due soon: open and due from ``today`` to ``today`` + 7 days;
    - late fees this year: late-fee lines of invoices dated in ``today``'s calendar year;
    - recent invoices: the latest 8 by invoice date;
    - chart: invoice totals per invoice month, the current month and the 11 before it.
    Every figure is per currency. For a scope of DASHBOARD_CACHE_MIN_INVOICES or more the
    aggregates are kept DASHBOARD_CACHE_SECONDS, keyed by user, day, scope and the figures
    version of the user's companies (a payment or a new charge is a new key); the recent
    invoices are always read fresh.
    """
    import dataclasses
    import hashlib

    from django.core.cache import cache

    from accounts.access import company_ids_of
    from accounts.models import Membership

    from ..figures_cache import invoice_figures_version

    if not user.is_authenticated:
        summary, _count = _dashboard_summary(user=user, today=today, account_ids=[], plan_ids=[])
        return summary
    account_ids = list(account_list_visible(user=user).order_by("id").values_list("id", flat=True))
    plan_ids = list(plan_list_visible(user=user).order_by("id").values_list("id", flat=True))
    version = invoice_figures_version(company_ids=company_ids_of(user))
    # The key names the scope itself: a changed membership or assignment is a new key.
    digest = hashlib.sha256(repr((user.pk, today.isoformat(), account_ids, plan_ids, version)).encode())
    cache_key = f"dashboard-summary:v2:{digest.hexdigest()[:32]}"
    cached = cache.get(cache_key)
    if cached is not None:
        # Only the aggregates come from the cache; the rows shown are read fresh.
        return dataclasses.replace(
            cached,
            has_membership=Membership.objects.filter(user=user).exists(),
            recent_invoices=_dashboard_recent(_scope_invoices(account_ids, plan_ids), today),
        )
    summary, invoice_count = _dashboard_summary(user=user, today=today, account_ids=account_ids, plan_ids=plan_ids)
    if invoice_count >= DASHBOARD_CACHE_MIN_INVOICES:
        cache.set(cache_key, summary, DASHBOARD_CACHE_SECONDS)
    return summary


def _scope_invoices(account_ids: list[int], plan_ids: list[int]) -> QuerySet[Invoice]:
    """Invoices of these accounts and plans (ids already read and scoped by the caller)."""
    return Invoice.objects.filter(Q(account_id__in=account_ids) | Q(plan_id__in=plan_ids))


def _dashboard_recent(visible: QuerySet[Invoice], today: datetime.date) -> list[Invoice]:
    return list(
        visible.select_related("account", "plan")
        .with_display_status(today)
        .order_by("-invoice_date", "-number")[:DASHBOARD_RECENT_COUNT]
    )


# A scope of at least this many invoices keeps its dashboard in the cache for a short time
# (issue 8: aggregating 200,000 invoices on every visit of the home page is not needed).
DASHBOARD_CACHE_MIN_INVOICES = 10_000
DASHBOARD_CACHE_SECONDS = 60
_FIGURE_NAMES = ("total_due", "past_due", "due_soon", "open_count", "past_due_count", "due_soon_count")


def _dashboard_summary(
    *, user, today: datetime.date, account_ids: list[int], plan_ids: list[int]
) -> tuple[DashboardSummary, int]:
    from accounts.models import Membership

    has_membership = Membership.objects.filter(user=user).exists() if user.is_authenticated else False
    due_soon_until = today + datetime.timedelta(days=DASHBOARD_DUE_SOON_DAYS)
    is_open = Q(status=InvoiceStatus.OPEN)
    past_due_q = is_open & Q(due_date__lt=today)
    due_soon_q = is_open & Q(due_date__gte=today, due_date__lte=due_soon_until)
    months = [_month_start(today, back) for back in range(DASHBOARD_CHART_MONTHS - 1, -1, -1)]
    month_ends = [*months[1:], today + datetime.timedelta(days=1)]

    # Figures and chart in one pass over the scope. Accounts and plans are aggregated
    # separately (an invoice bills one or the other) with their ids as literal lists, so
    # PostgreSQL reads each through its covering index instead of scanning the table.
    annotations = {
        "total_due": Sum("balance", filter=is_open),
        "past_due": Sum("balance", filter=past_due_q),
        "due_soon": Sum("balance", filter=due_soon_q),
        "open_count": Count("id", filter=is_open),
        "past_due_count": Count("id", filter=past_due_q),
        "due_soon_count": Count("id", filter=due_soon_q),
        "invoice_count": Count("id"),
        **{
            f"month_{index}": Sum("total", filter=Q(invoice_date__gte=start, invoice_date__lt=end))
            for index, (start, end) in enumerate(zip(months, month_ends, strict=True))
        },
    }
    merged: dict[str, dict] = {}
    for part in (Q(account_id__in=account_ids) if account_ids else None, Q(plan_id__in=plan_ids) if plan_ids else None):
        if part is None:
            continue
        for row in Invoice.objects.filter(part).order_by().values("currency").annotate(**annotations):
            into = merged.setdefault(row["currency"], {})
            for name, value in row.items():
                if name != "currency" and value is not None:
                    into[name] = into.get(name, 0) + value
    year_start = datetime.date(today.year, 1, 1)
    year_end = datetime.date(today.year, 12, 31)
    visible = _scope_invoices(account_ids, plan_ids)
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
    zero = Decimal(0)
    figures = [
        CurrencyFigures(
            currency=currency,
            **{name: values.get(name, 0 if name.endswith("_count") else zero) for name in _FIGURE_NAMES},
            late_fees_year=late_fees.get(currency) or zero,
        )
        for currency, values in sorted(merged.items())
    ]
    charts = [
        ChartSeries(
            currency=currency,
            points=[(month, values.get(f"month_{index}", zero)) for index, month in enumerate(months)],
        )
        for currency, values in sorted(merged.items())
        if any(f"month_{index}" in values for index in range(len(months)))
    ]
    summary = DashboardSummary(
        has_membership=has_membership,
        today=today,
        due_soon_until=due_soon_until,
        figures=figures,
        recent_invoices=_dashboard_recent(visible, today),
        charts=charts,
    )
    return summary, sum(values.get("invoice_count", 0) for values in merged.values())
