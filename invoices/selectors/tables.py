"""The invoice tables (R9): My Account Invoices and My Plan Invoices, filtered, sorted, counted
and read a page at a time (issue 4; keyset pages: issue 8).

``invoice_table_page_get`` is what the table view calls: one page object with the rows, the
totals, the page numbers and the cursors of the neighbouring pages.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass
from decimal import Decimal

from django.core.paginator import Page, Paginator
from django.db.models import Count, Q, QuerySet, Sum

from accounts.selectors import account_list_visible, plan_list_visible
from core.keyset import Position, Segment, keyset_page, position_from_token, position_token, reversed_segments

from ..models import Invoice, InvoiceLine, InvoiceStatus, Shipment

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
# Rows per page a table offers (the form's choices) and shows by default.
PAGE_SIZES = (10, 25, 50, 100)
DEFAULT_PAGE_SIZE = 25
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


def invoice_table_ids(*, user, kind: str, filters: dict, today: datetime.date, limit: int) -> list[int]:
    """The ids of at most ``limit`` invoices of a table's filtered set ("all rows matching")."""
    return list(invoice_table(user=user, kind=kind, filters=filters, today=today).values_list("id", flat=True)[:limit])


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

    from ..figures_cache import invoice_figures_version

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


# --- The page object the table view renders ------------------------------------------------


def table_cursor_context(kind: str, filters: dict, page_number: int) -> str:
    """What a page link's cursor is valid for: this table, sort, filter and page."""
    signature = sorted((key, str(value)) for key, value in filters.items() if key != "page")
    return hashlib.sha256(repr((kind, page_number, signature)).encode()).hexdigest()[:24]


@dataclass(frozen=True)
class InvoiceTablePage:
    """One page of an invoice table with everything the page shows about the filtered set.

    ``page`` is a Django ``Page`` (its ``object_list`` is ``rows``) of ``paginator``, whose
    count comes from ``totals``. ``previous_cursor`` / ``next_cursor``: the signed edge rows the
    Previous and Next links carry (``before=`` / ``after=``), None where there is no such page.
    """

    kind: str
    sort: str
    filters: dict
    rows: list[Invoice]
    page: Page
    paginator: Paginator
    totals: TableTotals
    previous_cursor: str | None
    next_cursor: str | None


def invoice_table_page_get(
    *,
    user,
    kind: str,
    filters: dict,
    today: datetime.date,
    billables: list[tuple[int, str, str]],
    after: str | None = None,
    before: str | None = None,
) -> InvoiceTablePage:
    """My Account Invoices (``kind="account"``) or My Plan Invoices (``"plan"``): one page.

    ``filters``: a validated ``InvoiceTableForm``'s ``filters()``; ``billables``: the user's
    visible accounts or plans (``billables_visible``); ``after`` / ``before``: the cursor a
    Next / Previous link carried. A page reached by a cursor is an index seek from the edge row
    of the page the link came from (as cheap at page 1,000 as at page 1); a page number alone
    (typed, or an old link, or a cursor that no longer fits) is read by offset.
    """
    scope_ids = [pk for pk, _number, _name in billables]
    queryset = invoice_table(user=user, kind=kind, filters=filters, today=today, scope_ids=scope_ids)
    totals = invoice_table_totals(
        queryset=queryset,
        kind=kind,
        today=today,
        cache_key=invoice_table_totals_key(user=user, kind=kind, filters=filters, today=today, scope=scope_ids),
    )
    page_size = filters.get("page_size", DEFAULT_PAGE_SIZE)
    paginator = Paginator(queryset, page_size)
    paginator.count = totals.count  # known from the totals query: no second COUNT
    page = paginator.get_page(filters.get("page"))
    segments = invoice_table_segments(kind=kind, sort=filters.get("sort"), today=today, billables=billables)
    edges = {
        direction: position_from_token(
            token,
            context=table_cursor_context(kind, filters, page.number),
            width=len(segments[0].fields),
        )
        for direction, token in (("after", after), ("before", before))
        if token and segments
    }
    table_page = invoice_table_page(
        queryset=queryset,
        segments=segments,
        totals=totals,
        limit=page_size,
        today=today,
        filters=filters,
        offset=page.start_index() - 1 if totals.count else 0,
        after=edges.get("after"),
        before=None if edges.get("after") else edges.get("before"),
    )
    page.object_list = table_page.rows

    def cursor(position: Position | None, page_number: int) -> str | None:
        if position is None:
            return None
        return position_token(position, context=table_cursor_context(kind, filters, page_number))

    return InvoiceTablePage(
        kind=kind,
        sort=filters.get("sort") or INVOICE_DEFAULT_SORT,
        filters=filters,
        rows=table_page.rows,
        page=page,
        paginator=paginator,
        totals=totals,
        previous_cursor=cursor(table_page.first, page.previous_page_number()) if page.has_previous() else None,
        next_cursor=cursor(table_page.last, page.next_page_number()) if page.has_next() else None,
    )
