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
    import dataclasses
    import hashlib

    from django.core.cache import cache

    from accounts.models import Membership

    cache_key = None
    if user.is_authenticated:
        # The key names the scope itself: a changed membership or assignment is a new key.
        scope = (
            list(account_list_visible(user=user).order_by("id").values_list("id", flat=True)),
            list(plan_list_visible(user=user).order_by("id").values_list("id", flat=True)),
        )
        digest = hashlib.sha256(repr((user.pk, today.isoformat(), scope)).encode()).hexdigest()[:32]
        cache_key = f"dashboard-summary:{digest}"
        cached = cache.get(cache_key)
        if cached is not None:
            # Only the aggregates come from the cache; the rows shown are read fresh.
            return dataclasses.replace(
                cached,
                has_membership=Membership.objects.filter(user=user).exists(),
                recent_invoices=_dashboard_recent(invoice_list_visible(user=user), today),
            )
    summary, invoice_count = _dashboard_summary(user=user, today=today)
    if cache_key is not None and invoice_count >= DASHBOARD_CACHE_MIN_INVOICES:
        cache.set(cache_key, summary, DASHBOARD_CACHE_SECONDS)
    return summary


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


def _dashboard_summary(*, user, today: datetime.date) -> tuple[DashboardSummary, int]:
    from accounts.models import Membership

    has_membership = Membership.objects.filter(user=user).exists() if user.is_authenticated else False
    visible = invoice_list_visible(user=user)
    due_soon_until = today + datetime.timedelta(days=DASHBOARD_DUE_SOON_DAYS)
    zero = Value(Decimal(0), output_field=DecimalField(max_digits=16, decimal_places=2))
    is_open = Q(status=InvoiceStatus.OPEN)
    past_due_q = is_open & Q(due_date__lt=today)
    due_soon_q = is_open & Q(due_date__gte=today, due_date__lte=due_soon_until)

    rows = list(
        visible.order_by()
        .values("currency")
        .annotate(
            total_due=Coalesce(Sum("balance", filter=is_open), zero),
            past_due=Coalesce(Sum("balance", filter=past_due_q), zero),
            due_soon=Coalesce(Sum("balance", filter=due_soon_q), zero),
            open_count=Count("id", filter=is_open),
            past_due_count=Count("id", filter=past_due_q),
            due_soon_count=Count("id", filter=due_soon_q),
            invoice_count=Count("id"),
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

    recent_invoices = _dashboard_recent(visible, today)

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
    summary = DashboardSummary(
        has_membership=has_membership,
        today=today,
        due_soon_until=due_soon_until,
        figures=figures,
        recent_invoices=recent_invoices,
        charts=charts,
    )
    return summary, sum(row["invoice_count"] for row in rows)


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
# A search matching at most this many invoices passes their ids on as a list (one search).
SEARCH_IDS_INLINE = 1000


def _invoice_order(sort: str | None) -> list[str]:
    sort = sort or INVOICE_DEFAULT_SORT
    descending = sort.startswith("-")
    fields = INVOICE_SORTS.get(sort.lstrip("-")) or INVOICE_SORTS["invoice_date"]
    prefix = "-" if descending else ""
    return [f"{prefix}{field}" for field in fields] + [f"{prefix}number", f"{prefix}id"]


def invoice_table(*, user, kind: str, filters: dict, today: datetime.date) -> QuerySet[Invoice]:
    """My Account Invoices (``kind="account"``) or My Plan Invoices (``"plan"``), filtered and sorted.

    ``filters`` holds a validated ``InvoiceTableForm``'s cleaned data; missing keys mean
    "no filter". Rows carry ``display_status`` (open, past_due, paid, credit) and ``disputed``
    (a dispute is submitted or under review).
    """
    from django.db.models import Exists, OuterRef

    from accounts.models import BillingPlan, ShippingAccount

    # An invoice bills exactly one account or one plan (a database constraint), so the
    # account table's scope is "invoices of visible accounts" alone: one indexable IN.
    if kind == "plan":
        queryset = Invoice.objects.filter(plan__in=plan_list_visible(user=user).values("id"))
    else:
        queryset = Invoice.objects.filter(account__in=account_list_visible(user=user).values("id"))
    queryset = queryset.with_display_status(today).annotate(
        disputed=Exists(Invoice.objects.filter(pk=OuterRef("pk"), disputes__status__in=INVOICE_OPEN_DISPUTE_STATUSES))
    )

    search = (filters.get("q") or "").strip()
    if search:
        # "Contains" on the invoice number, the account or plan number, or a billed tracking
        # number: one UNION of id lists, each branch served by a trigram index (PostgreSQL).
        billable = BillingPlan if kind == "plan" else ShippingAccount
        billable_field = "plan_id" if kind == "plan" else "account_id"
        matching = (
            Invoice.objects.filter(number__icontains=search)
            .order_by()
            .values_list("id", flat=True)
            .union(
                Invoice.objects.filter(
                    **{f"{billable_field}__in": billable.objects.filter(number__icontains=search).values("id")}
                )
                .order_by()
                .values_list("id", flat=True),
                InvoiceLine.objects.filter(
                    shipment__in=Shipment.objects.filter(tracking_number__icontains=search).values("id")
                )
                .order_by()
                .values_list("invoice_id", flat=True),
                all=True,
            )
        )
        # A search usually finds a few invoices: UNION ALL stops after SEARCH_IDS_INLINE + 1 ids
        # and the list goes to the totals and page queries. A broad search ("1Z") is tested row
        # by row within the user's scope instead.
        # (Under three characters there is no trigram to look up: straight to row by row.)
        found = set(matching[: SEARCH_IDS_INLINE + 1]) if len(search) >= 3 else None
        if found is not None and len(found) <= SEARCH_IDS_INLINE:
            queryset = queryset.filter(id__in=found)
        else:
            queryset = queryset.filter(
                Q(number__icontains=search)
                | Q(**{f"{billable_field.removesuffix('_id')}__number__icontains": search})
                | Exists(
                    InvoiceLine.objects.filter(invoice=OuterRef("pk"), shipment__tracking_number__icontains=search)
                )
            )
    status = filters.get("status")
    if status == "disputed":
        queryset = queryset.filter(disputed=True)
    elif status == "past_due":  # display_status spelled out on stored columns: indexable
        queryset = queryset.filter(status=InvoiceStatus.OPEN, due_date__lt=today)
    elif status == InvoiceStatus.OPEN:
        queryset = queryset.filter(status=InvoiceStatus.OPEN, due_date__gte=today)
    elif status:
        queryset = queryset.filter(status=status)
    billable = filters.get("billable")
    if billable:
        queryset = queryset.filter(**{f"{'plan' if kind == 'plan' else 'account'}__number": billable})
    for field, lookup in (
        ("invoice_date_from", "invoice_date__gte"),
        ("invoice_date_to", "invoice_date__lte"),
        ("due_date_from", "due_date__gte"),
        ("due_date_to", "due_date__lte"),
        ("amount_min", "total__gte"),
        ("amount_max", "total__lte"),
    ):
        value = filters.get(field)
        if value is not None and value != "":
            queryset = queryset.filter(**{lookup: value})
    return queryset.select_related("account", "plan").order_by(*_invoice_order(filters.get("sort")))


@dataclass(frozen=True)
class TableTotals:
    """The filtered set's size and sums, per currency (amounts of currencies are never added)."""

    count: int
    by_currency: list[dict]


# A filtered set at least this large keeps its count and sums in the cache for a short time
# (per user, table, day and filter), so paging and sorting a huge set does not re-aggregate
# it on every request. Smaller sets are always computed fresh: they are cheap.
TABLE_TOTALS_CACHE_MIN_ROWS = 10_000
TABLE_TOTALS_CACHE_SECONDS = 60


def _totals_query(queryset: QuerySet[Invoice]) -> TableTotals:
    rows = list(
        queryset.order_by()
        .values("currency")
        .annotate(count=Count("id"), total=Sum("total"), balance=Sum("balance"))
        .order_by("currency")
    )
    return TableTotals(count=sum(row["count"] for row in rows), by_currency=rows)


def invoice_table_totals(*, queryset: QuerySet[Invoice], cache_key: str | None = None) -> TableTotals:
    """One query: the count, the total and the balance due of the filtered set per currency.

    With ``cache_key`` (the view passes user, table, day and filters), a set of
    ``TABLE_TOTALS_CACHE_MIN_ROWS`` or more is reused for ``TABLE_TOTALS_CACHE_SECONDS``.
    """
    from django.core.cache import cache

    if cache_key is not None:
        cached = cache.get(cache_key)
        if cached is not None:
            return cached
    totals = _totals_query(queryset)
    if cache_key is not None and totals.count >= TABLE_TOTALS_CACHE_MIN_ROWS:
        cache.set(cache_key, totals, TABLE_TOTALS_CACHE_SECONDS)
    return totals


def invoice_table_totals_key(*, user, kind: str, filters: dict, today: datetime.date, scope=()) -> str:
    """The cache key of a table's totals: the sort and the page do not change them.

    ``scope`` (the visible account or plan numbers) is part of the key, so a changed
    membership or assignment never reuses totals computed for the old scope.
    """
    import hashlib

    signature = sorted((key, str(value)) for key, value in filters.items() if key not in ("sort", "page", "page_size"))
    scope_key = sorted(str(item) for item in scope)
    digest = hashlib.sha256(repr((user.pk, kind, today.isoformat(), signature, scope_key)).encode()).hexdigest()[:32]
    return f"invoice-table-totals:{digest}"


def invoice_table_page(*, queryset: QuerySet[Invoice], offset: int, limit: int, today: datetime.date) -> list[Invoice]:
    """One page of a table in two narrow queries, at the same cost at any depth.

    First the page's ids in sort order (PostgreSQL reads them from a covering index
    without touching the table, and computes nothing per skipped row); then those
    rows with their account or plan, display status and dispute flag.
    """
    from django.db.models import Exists, OuterRef

    ids = list(queryset.values_list("id", flat=True)[offset : offset + limit])
    if not ids:
        return []
    rows = (
        Invoice.objects.filter(id__in=ids)
        .select_related("account", "plan")
        .with_display_status(today)
        .annotate(
            disputed=Exists(
                Invoice.objects.filter(pk=OuterRef("pk"), disputes__status__in=INVOICE_OPEN_DISPUTE_STATUSES)
            )
        )
        .order_by()
    )
    by_id = {invoice.id: invoice for invoice in rows}
    return [by_id[pk] for pk in ids if pk in by_id]


def billable_choices_visible(*, user, kind: str) -> list[tuple[str, str]]:
    """(number, label) of the accounts or plans the user may see, for the table's filter."""
    source = plan_list_visible(user=user) if kind == "plan" else account_list_visible(user=user)
    return [(number, f"{number} · {name}") for number, name in source.values_list("number", "name")]


def _with_document_data(queryset: QuerySet[Invoice]) -> QuerySet[Invoice]:
    from django.db.models import Prefetch

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


def invoice_detail_visible(*, user, number: str, today: datetime.date) -> Invoice | None:
    """The invoice page: lines with shipments, payments applied and disputes, in a fixed number of queries."""
    from django.db.models import Exists, OuterRef

    return (
        _with_document_data(invoice_list_visible(user=user).filter(number=number))
        .with_display_status(today)
        .annotate(
            disputed=Exists(
                Invoice.objects.filter(
                    pk=OuterRef("pk"), disputes__status__in=INVOICE_OPEN_DISPUTE_STATUSES
                )
            )
        )
        .prefetch_related("allocations__payment", "disputes")
        .first()
    )


def shipment_history(*, user, filters: dict) -> QuerySet[Shipment]:
    """Shipping history (R22): the user's shipments, each with the visible invoices that billed it."""
    from django.db.models import Prefetch

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
