"""What other apps tell accounts about an account or plan, without accounts knowing them.

Dependencies point one way (core <- accounts <- invoices <- payments, disputes): accounts never
imports, queries through the reverse relations of, or copies the constants of the apps that depend
on it. Where accounts needs their answer it asks a registry that they fill in their
``AppConfig.ready()``:

- ``removal_blockers``: why an account or plan cannot leave its company now (payments: a live
  AutoPay schedule; disputes: an open dispute of one of its invoices). ``fn(billable) -> list[str]``
  returns translated reasons; the reasons come in ``order``, then registration order.
- ``billable_flags``: per-row facts the My Accounts / My Plans tables show (payments:
  ``autopay_live``). ``fn(billables) -> {pk: {name: value}}`` answers for a whole page in one query
  and gives every pk it was asked about an entry (its default included).
- ``enrolment_invoices``: the invoice an enrolment is checked against (invoices, the one provider):
  ``fn(billable, number) -> invoice | None``, the account's (or plan's) invoice with that number
  (case-insensitive); enrolment compares its ``invoice_date``, ``total`` and ``control_id``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.core.exceptions import ImproperlyConfigured

RemovalBlocker = Callable[[Any], list[str]]
FlagsProvider = Callable[[Sequence[Any]], dict[int, dict[str, Any]]]


class _Registry:
    """Functions in a fixed order: ``order`` first, then the order they were registered in."""

    def __init__(self) -> None:
        self._entries: list[tuple[int, int, Callable]] = []

    def register(self, fn: Callable, *, order: int = 100) -> Callable:
        """Add ``fn`` once (registering the same function again is a no-op, as ``ready()`` may run twice)."""
        if all(entry[2] is not fn for entry in self._entries):
            self._entries.append((order, len(self._entries), fn))
            self._entries.sort(key=lambda entry: entry[:2])
        return fn

    def unregister(self, fn: Callable) -> None:
        self._entries = [entry for entry in self._entries if entry[2] is not fn]

    def functions(self) -> list[Callable]:
        return [entry[2] for entry in self._entries]


class RemovalBlockers(_Registry):
    def reasons(self, billable) -> list[str]:
        """Why ``billable`` cannot leave its company now (empty when it can)."""
        return [reason for fn in self.functions() for reason in fn(billable)]


class BillableFlags(_Registry):
    def apply(self, billables: Iterable) -> list:
        """The billables as a list, each with the attributes every provider gave it (one query each)."""
        rows = list(billables)
        if not rows:
            return rows
        for fn in self.functions():
            flags = fn(rows)
            for row in rows:
                for name, value in flags.get(row.pk, {}).items():
                    setattr(row, name, value)
        return rows


class EnrolmentInvoices:
    """The one function that finds the invoice an enrolment is checked against."""

    def __init__(self) -> None:
        self._find: Callable[[Any, str], Any] | None = None

    def register(self, fn: Callable[[Any, str], Any]) -> Callable[[Any, str], Any]:
        self._find = fn
        return fn

    def find(self, billable, number: str):
        """The invoice of ``billable`` numbered ``number`` (case-insensitive), or None."""
        if self._find is None:
            raise ImproperlyConfigured("No app registered accounts.registry.enrolment_invoices (invoices does).")
        return self._find(billable, number)


removal_blockers = RemovalBlockers()
billable_flags = BillableFlags()
enrolment_invoices = EnrolmentInvoices()
