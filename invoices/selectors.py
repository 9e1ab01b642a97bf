"""Reads for invoices, already scoped to what the user may see."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum

from accounts.selectors import account_list_visible, plan_list_visible
from core.keyset import Position, Segment, keyset_page, reversed_segments

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

    from .figures_cache import invoice_figures_version

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


# --- Invoice centre (issue 4): tables, detail, exports, shipping history ---------------------

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


def invoice_table(
    *, user, kind: str, filters: dict, today: datetime.date, scope_ids: list[int] | None = None
) -> QuerySet[Invoice]:
    """My Account Invoices (``kind="account"``) or My Plan Invoices (``"plan"``), filtered and sorted.

    ``filters`` holds a validated ``InvoiceTableForm``'s cleaned data; missing keys mean
    "no filter". Rows carry ``display_status`` (open, past_due, paid, credit) and ``disputed``
    (a dispute is submitted or under review). ``scope_ids``: the visible account or plan ids
    when the caller has read them already (``billables_visible``); as a literal list they let
    PostgreSQL estimate the set's size exactly.
    """
    from django.db.models import Exists, OuterRef

    from accounts.models import BillingPlan, ShippingAccount

    # An invoice bills exactly one account or one plan (a database constraint), so the
    # account table's scope is "invoices of visible accounts" alone: one indexable IN.
    field = "plan_id" if kind == "plan" else "account_id"
    if scope_ids is None:
        source = plan_list_visible(user=user) if kind == "plan" else account_list_visible(user=user)
        scope_ids = source.values("id")
    queryset = Invoice.objects.filter(**{f"{field}__in": scope_ids})
    queryset = queryset.with_display_status(today).with_disputed()

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
    elif status:  # display_status spelled out on stored columns: indexable
        queryset = queryset.filter(_status_q(status, today))
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
    # Rows per segment of the tables sorted by status (keyed by the rank in STATUS_SEGMENTS)
    # and by account or plan (keyed by its id): a page knows which segment its first row is
    # in, and which segments it can reach.
    status_counts: dict[int, int]
    billable_counts: dict[int, int]


# A filtered set at least this large keeps its count and sums in the cache for a short time
# (per user, table, day and filter), so paging and sorting a huge set does not re-aggregate
# it on every request. Smaller sets are always computed fresh: they are cheap.
TABLE_TOTALS_CACHE_MIN_ROWS = 10_000
TABLE_TOTALS_CACHE_SECONDS = 60


def _totals_query(queryset: QuerySet[Invoice], today: datetime.date, kind: str) -> TableTotals:
    billable_field = "plan_id" if kind == "plan" else "account_id"
    per_status = {
        f"status_{rank}": Count("id", filter=_status_q(status, today)) for rank, status in enumerate(STATUS_SEGMENTS)
    }
    groups = list(
        queryset.order_by()
        .values("currency", billable_field)
        .annotate(count=Count("id"), total=Sum("total"), balance=Sum("balance"), **per_status)
        .order_by()
    )
    by_currency: dict[str, dict] = {}
    billable_counts: dict[int, int] = {}
    status_counts = dict.fromkeys(range(len(STATUS_SEGMENTS)), 0)
    for group in groups:
        billable_counts[group[billable_field]] = billable_counts.get(group[billable_field], 0) + group["count"]
        for rank in status_counts:
            status_counts[rank] += group[f"status_{rank}"]
        row = by_currency.setdefault(
            group["currency"], {"currency": group["currency"], "count": 0, "total": Decimal(0), "balance": Decimal(0)}
        )
        for name in ("count", "total", "balance"):
            row[name] += group[name]
    return TableTotals(
        count=sum(row["count"] for row in by_currency.values()),
        by_currency=[by_currency[currency] for currency in sorted(by_currency)],
        status_counts=status_counts,
        billable_counts=billable_counts,
    )


def invoice_table_totals(
    *, queryset: QuerySet[Invoice], kind: str, today: datetime.date, cache_key: str | None = None
) -> TableTotals:
    """One query: the count, the total and the balance due of the filtered set per currency.

    With ``cache_key`` (the view passes user, table, day and filters), a set of
    ``TABLE_TOTALS_CACHE_MIN_ROWS`` or more is reused for ``TABLE_TOTALS_CACHE_SECONDS``.
    """
    from django.core.cache import cache

    if cache_key is not None:
        cached = cache.get(cache_key)
        if cached is not None:
            return cached
    totals = _totals_query(queryset, today, kind)
    if cache_key is not None and totals.count >= TABLE_TOTALS_CACHE_MIN_ROWS:
        cache.set(cache_key, totals, TABLE_TOTALS_CACHE_SECONDS)
    return totals


def invoice_table_totals_key(*, user, kind: str, filters: dict, today: datetime.date, scope=()) -> str:
    """The cache key of a table's totals: the sort and the page do not change them.

    ``scope`` (the visible account or plan ids) is part of the key, so a changed membership
    or assignment never reuses totals computed for the old scope; so is the figures version
    of the user's companies, so a payment or a new charge is seen on the next request.
    """
    import hashlib

    from accounts.access import company_ids_of

    from .figures_cache import invoice_figures_version

    signature = sorted((key, str(value)) for key, value in filters.items() if key not in ("sort", "page", "page_size"))
    version = invoice_figures_version(company_ids=company_ids_of(user))
    scope_key = sorted(str(item) for item in scope)
    digest = hashlib.sha256(repr((user.pk, kind, today.isoformat(), signature, scope_key, version)).encode())
    return f"invoice-table-totals:v3:{digest.hexdigest()[:32]}"


# --- Table pages: segments and keyset pagination (issue 8) ---------------------------------

# Display status in the order "sort by status" shows it (ascending). Each is one segment read
# through an index: credit and open rows through the partial index of unpaid invoices,
# paid rows through the number index.
STATUS_SEGMENTS = ("credit", "open", "paid", "past_due")
# A filtered set this small is found by its filter and sorted, rather than read in sort
# order from an index (see _sort_after_filtering).
TABLE_SMALL_SET = 20_000
TABLE_FILTER_KEYS = (
    "q", "status", "billable", "invoice_date_from", "invoice_date_to",
    "due_date_from", "due_date_to", "amount_min", "amount_max",
)  # fmt: skip


def _status_q(status: str, today: datetime.date) -> Q:
    """``display_status == status`` spelled on stored columns (indexable)."""
    if status == "past_due":
        return Q(status=InvoiceStatus.OPEN, due_date__lt=today)
    if status == InvoiceStatus.OPEN:
        return Q(status=InvoiceStatus.OPEN, due_date__gte=today)
    return Q(status=status)


def invoice_table_segments(
    *, kind: str, sort: str | None, today: datetime.date, billables: list[tuple[int, str, str]]
) -> list[Segment]:
    """How a table sorted by ``sort`` is read: the segments of keyset pagination, in page order.

    By status: one segment per display status. By account or plan: one per visible account
    or plan (``billables``, as ``billables_visible`` gives them), in number order, each read
    through the scope index by invoice number. Any other column: one segment.
    """
    sort = sort if sort and sort.lstrip("-") in INVOICE_SORTS else INVOICE_DEFAULT_SORT
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key == "status":
        segments = [
            Segment(rank=rank, fields=("number", "id"), where=_status_q(status, today))
            for rank, status in enumerate(STATUS_SEGMENTS)
        ]
    elif key == "billable":
        field = "plan_id" if kind == "plan" else "account_id"
        segments = [
            Segment(rank=pk, fields=("number", "id"), where=Q(**{field: pk}))
            for pk, _number, _name in sorted(billables, key=lambda billable: billable[1])
        ]
    else:
        segments = [Segment(rank=0, fields=(*INVOICE_SORTS[key], "number", "id"))]
    return reversed_segments(segments) if descending else segments


@dataclass(frozen=True)
class TablePage:
    rows: list[Invoice]
    first: Position | None
    last: Position | None


def invoice_table_page(
    *,
    queryset: QuerySet[Invoice],
    segments: list[Segment],
    totals: TableTotals,
    limit: int,
    today: datetime.date,
    filters: dict,
    offset: int = 0,
    after: Position | None = None,
    before: Position | None = None,
) -> TablePage:
    """One page of a table in two narrow queries.

    The page's ids come from ``keyset_page`` (an index seek from ``after``/``before``, the
    neighbouring page's edge row, at the same cost at any depth; else ``offset``); then those
    rows with their account or plan, display status and dispute flag.
    """

    ranks = {segment.rank for segment in segments}
    after = after if after is not None and after.rank in ranks else None  # e.g. an account no longer visible
    before = before if before is not None and before.rank in ranks else None
    base = queryset.order_by()
    options = {
        "limit": limit,
        "planner_sort": after is None and before is None and _sort_after_filtering(filters, totals.count),
        "segment_counts": _segment_counts(filters, totals),
    }
    if before is not None:
        page = keyset_page(base, reversed_segments(segments), after=before, **options)
        ids, first, last = page.ids[::-1], page.last, page.first
    else:
        if after is None and offset and offset + limit >= totals.count:
            # The last page: read from the end (a seek), not past every row before it.
            tail = totals.count - offset
            page = keyset_page(base, reversed_segments(segments), **{**options, "limit": tail})
            ids, first, last = page.ids[::-1], page.last, page.first
        else:
            page = keyset_page(base, segments, after=after, offset=offset, **options)
            ids, first, last = page.ids, page.first, page.last
    if not ids:
        return TablePage(rows=[], first=None, last=None)
    rows = (
        Invoice.objects.filter(id__in=ids)
        .select_related("account", "plan")
        .with_display_status(today)
        .with_disputed()
        .order_by()
    )
    by_id = {invoice.id: invoice for invoice in rows}
    return TablePage(rows=[by_id[pk] for pk in ids if pk in by_id], first=first, last=last)


def _segment_counts(filters: dict, totals: TableTotals) -> dict[int, int] | None:
    key = (filters.get("sort") or INVOICE_DEFAULT_SORT).lstrip("-")
    return {"status": totals.status_counts, "billable": totals.billable_counts}.get(key)


def _sort_after_filtering(filters: dict, count: int) -> bool:
    """Whether a page without a position (the first, the last, a typed page number) should be
    found by its filter and sorted, rather than read in sort order from an index.

    A filter's matches are often bunched in sort order, not spread: open invoices are the
    newest, invoices due in February were issued in January. PostgreSQL's planner assumes
    spread, so reading "newest first" it may walk months of the invoice date index before
    the first match. A small filtered set (at most TABLE_SMALL_SET rows) read through the
    filter's own index and sorted costs the same wherever its rows lie. Pages reached by a
    position (Next, Previous) start at their rows and need no such help.
    """
    from django.db import connection

    if count > TABLE_SMALL_SET or connection.vendor != "postgresql":
        return False
    return any(filters.get(key) for key in TABLE_FILTER_KEYS)


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


def invoice_get_for_download(*, user, number: str) -> Invoice | None:
    """``invoice_list_for_export`` of one number, with ``user_role``: the user's role in the
    invoice's company (``accounts.access.role_subquery``), in the same query. None outside scope."""
    from django.db.models import OuterRef
    from django.db.models.functions import Coalesce

    from accounts.access import role_subquery

    role = role_subquery(user, Coalesce(OuterRef("account__company_id"), OuterRef("plan__company_id")))
    return invoice_list_for_export(user=user, numbers=[number]).annotate(user_role=role).first()


def invoice_detail_visible(*, user, number: str, today: datetime.date) -> Invoice | None:
    """The invoice page: lines with shipments, payments applied and disputes, in a fixed number of queries."""

    return (
        _with_document_data(invoice_list_visible(user=user).filter(number=number))
        .with_display_status(today)
        .with_disputed()
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
