"""Keyset ("seek") pagination of a queryset read in ordered segments (issue 8).

A table is read in one or more *segments*, each a filter and an ordering an index can serve,
one after the other (the invoice table sorted by status reads credit, open, paid and past-due
invoices in turn; any other sort is one segment). A row's *position* is its segment and the
values of its sort keys; the last key is unique (the primary key), so positions are total.

A page is found one of two ways, in one query whatever the depth:
- from a position (the last row of the page before, or the first row of the page after):
  ``key > position`` starts an index seek there, so page 1,000 costs what page 1 costs;
- by offset, when nothing else is known (a page number typed into the URL): the database
  skips rows, the cost grows with the depth.

Positions travel in page links as signed tokens (``position_token`` / ``position_from_token``):
a token altered by hand, or made for another sort, filter or page, is refused, and the
caller falls back to the offset.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation

from django.core import signing
from django.db import connections, router
from django.db.models import F, Func, Q, QuerySet, Value
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan

TOKEN_SALT = "core.keyset"


@dataclass(frozen=True)
class Segment:
    """One part of a table in reading order: rows matching ``where``, ordered by ``fields``."""

    rank: int
    fields: tuple[str, ...]
    where: Q = field(default_factory=Q)
    descending: bool = False

    def flipped(self) -> Segment:
        return replace(self, descending=not self.descending)

    def ordering(self, *, planner_sort: bool = False) -> list:
        """ORDER BY of the segment. ``planner_sort`` hides the first key behind COALESCE so that
        PostgreSQL finds a small filtered set by its filter and sorts it, instead of walking a
        sort index and discarding most of it (its estimate of where the matches lie is poor
        when the filter and the sort key are correlated, e.g. due date and invoice date)."""
        expressions = []
        for index, name in enumerate(self.fields):
            expression = Func(F(name), function="COALESCE") if planner_sort and index == 0 else F(name)
            expressions.append(expression.desc() if self.descending else expression.asc())
        return expressions

    def after(self, values: tuple):
        """Rows strictly after ``values`` in this segment's order: the row comparison
        ``(k1, k2, id) > (v1, v2, v3)`` (``<`` when descending), which PostgreSQL answers with
        one index seek even inside a large group of equal first keys (every paid invoice has
        balance 0). Django's tuple lookups (5.2, used for composite primary keys) write it;
        on SQLite they expand it to ``k1 > v1 OR (k1 = v1 AND …)``."""
        lookup = TupleLessThan if self.descending else TupleGreaterThan
        return lookup(Tuple(*(F(name) for name in self.fields)), tuple(values))


@dataclass(frozen=True)
class Position:
    """Where a row stands: its segment's rank and its sort-key values."""

    rank: int
    values: tuple


@dataclass(frozen=True)
class KeysetPage:
    ids: list[int]
    first: Position | None
    last: Position | None


def reversed_segments(segments: list[Segment]) -> list[Segment]:
    """The same rows read from the end: segments in reverse, each ordered the other way."""
    return [segment.flipped() for segment in reversed(segments)]


def keyset_page(
    queryset: QuerySet,
    segments: list[Segment],
    *,
    limit: int,
    after: Position | None = None,
    offset: int = 0,
    segment_counts: dict[int, int] | None = None,
    planner_sort: bool = False,
) -> KeysetPage:
    """The ids of ``limit`` rows, in the order of ``segments``: after ``after``, else from ``offset``.

    ``segment_counts`` (rows per segment rank) lets an offset skip whole segments and keeps
    the query to the segments the page can reach (a table of 400 accounts as 400 segments
    reads one or two); without it every segment from the first is a branch of the query.
    A position in no segment of the list (an account no longer visible) is ignored: the
    page is read by ``offset``. The last field of every segment is the id.
    """
    if not segments:  # e.g. sorted by account, and no account is visible
        return KeysetPage(ids=[], first=None, last=None)
    ranks = [segment.rank for segment in segments]
    if after is not None and after.rank not in ranks:
        after = None
    start, skip = 0, offset
    if after is not None:
        start, skip = ranks.index(after.rank), 0
    elif skip and len(segments) > 1:
        counts = segment_counts or {}
        for index, segment in enumerate(segments):
            size = counts.get(segment.rank, 0)
            if skip < size:
                start = index
                break
            skip -= size
        else:
            return KeysetPage(ids=[], first=None, last=None)

    reach = [start]  # the segments the page can reach
    if segment_counts is None:
        reach += range(start + 1, len(segments))
    else:
        # Rows available after the starting point; the first segment's rest is unknown after
        # a position, so it counts as none.
        available = 0 if after is not None else segment_counts.get(segments[start].rank, 0) - skip
        for index in range(start + 1, len(segments)):
            if available >= limit:
                break
            size = segment_counts.get(segments[index].rank, 0)
            if size:
                reach.append(index)
                available += size

    branches = []
    for index in reach:
        segment = segments[index]
        branch = queryset.filter(segment.where)
        if index == start and after is not None:
            branch = branch.filter(segment.after(after.values))
        low = skip if index == start else 0
        branch = (
            branch.annotate(keyset_segment=Value(index))
            .order_by(*segment.ordering(planner_sort=planner_sort))
            .values_list("keyset_segment", *segment.fields)
        )
        branches.append(branch[low : low + limit])

    connection = connections[router.db_for_read(queryset.model)]
    if len(branches) > 1 and connection.features.supports_slicing_ordering_in_compound:
        # One query: UNION ALL of the segments' slices, put in reading order.
        first = segments[start]
        combined = (
            branches[0]
            .union(*branches[1:], all=True)
            .order_by(*(["keyset_segment"] + [f"-{name}" if first.descending else name for name in first.fields]))
        )
        rows = list(combined[:limit])
    else:
        # One query per segment, stopping as soon as the page is full (SQLite; and the
        # single-segment case everywhere).
        rows = []
        for branch in branches:
            rows.extend(branch[: limit - len(rows)])
            if len(rows) >= limit:
                break
    rows = rows[:limit]
    if not rows:
        return KeysetPage(ids=[], first=None, last=None)

    def position(row) -> Position:
        return Position(rank=segments[row[0]].rank, values=tuple(row[1:]))

    return KeysetPage(ids=[row[-1] for row in rows], first=position(rows[0]), last=position(rows[-1]))


# --- Tokens in page links ------------------------------------------------------------------


def _encode(value):
    if isinstance(value, datetime.date):
        return ["d", value.isoformat()]
    if isinstance(value, Decimal):
        return ["n", str(value)]
    return value


def _decode(value):
    if isinstance(value, list) and len(value) == 2 and value[0] in ("d", "n"):
        kind, text = value
        return datetime.date.fromisoformat(text) if kind == "d" else Decimal(text)
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return value
    raise ValueError(f"unexpected key value {value!r}")


def position_token(position: Position, *, context: str) -> str:
    """A signed, URL-safe token of ``position``, valid only for the same ``context``
    (the caller's digest of table, sort, filters and target page)."""
    return signing.dumps(
        {"c": context, "r": position.rank, "v": [_encode(value) for value in position.values]},
        salt=TOKEN_SALT,
        compress=True,
    )


def position_from_token(token: str, *, context: str, width: int) -> Position | None:
    """The position in ``token``; None when the token is altered, foreign or malformed."""
    try:
        data = signing.loads(token, salt=TOKEN_SALT)
        if not isinstance(data, dict) or data.get("c") != context:
            return None
        values = tuple(_decode(value) for value in data["v"])
        rank = data["r"]
    except (signing.BadSignature, KeyError, TypeError, ValueError, InvalidOperation):
        return None
    if not isinstance(rank, int) or len(values) != width:
        return None
    return Position(rank=rank, values=values)
