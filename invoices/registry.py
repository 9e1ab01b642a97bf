"""What the apps that depend on invoices add to it, registered in their ``AppConfig.ready()``.

Dependencies point one way (core ← accounts ← invoices ← payments, disputes): invoices never
imports payments or disputes, nor queries through their relations to ``Invoice``. Where an
invoice page or rule needs to know something those apps own, invoices asks a registry here and
the owner fills it in (``payments/invoice_hooks.py``, ``disputes/invoice_hooks.py``):

- ``open_holds``: conditions over ``Invoice`` rows meaning "something open holds this invoice"
  (disputes: a dispute submitted or under review). The tables and the detail show it as the
  "disputed" flag; no late fee is charged while it holds.
- ``detail_sections``: the parts of the invoice detail page that other apps show (payments
  applied, disputes filed), each one query and one template partial.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import BooleanField, Expression, ExpressionWrapper, Q, Value


class OpenHolds:
    """Conditions that mark an invoice as held; each is a boolean expression over ``Invoice``
    rows (typically one ``Exists(...)`` correlated on ``OuterRef("pk")``)."""

    def __init__(self) -> None:
        self._conditions: dict[str, Callable[[], Expression]] = {}

    def register(self, name: str, condition: Callable[[], Expression]) -> None:
        """Add (or replace: ``ready()`` may run twice in tests) the condition called ``name``."""
        self._conditions[name] = condition

    def condition(self):
        """Held by any registered condition: for ``filter()`` and ``annotate()``.

        With one condition (the usual case) its expression as given: the same single subquery
        as before the registry; with none, a constant False.
        """
        expressions = [build() for build in self._conditions.values()]
        if not expressions:
            return Value(False, output_field=BooleanField())
        if len(expressions) == 1:
            return expressions[0]
        combined = Q(expressions[0])
        for expression in expressions[1:]:
            combined |= Q(expression)
        return ExpressionWrapper(combined, output_field=BooleanField())


@dataclass(frozen=True)
class DetailSection:
    """One contribution to the invoice detail page: ``template`` is included with ``section``
    (this object) in its context, so the partial reads ``section.context.<name>``."""

    name: str
    template: str
    context: dict[str, Any]


@dataclass(frozen=True)
class _DetailSectionSource:
    name: str
    template: str
    order: int
    build: Callable[..., dict[str, Any]]


class DetailSections:
    """Sections other apps add to the invoice detail page, shown in ``order``."""

    def __init__(self) -> None:
        self._sources: dict[str, _DetailSectionSource] = {}

    def register(self, name: str, build: Callable[..., dict[str, Any]], *, template: str, order: int) -> None:
        """``build(*, invoice, user) -> dict``: the section's context, read in one query."""
        self._sources[name] = _DetailSectionSource(name=name, template=template, order=order, build=build)

    def for_invoice(self, *, invoice, user) -> list[DetailSection]:
        return [
            DetailSection(name=source.name, template=source.template, context=source.build(invoice=invoice, user=user))
            for source in sorted(self._sources.values(), key=lambda source: (source.order, source.name))
        ]


open_holds = OpenHolds()
detail_sections = DetailSections()
