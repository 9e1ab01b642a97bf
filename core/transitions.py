"""The one transition helper: a status changes only along its model's table.

Each model that has a life cycle declares its table next to it (``PAYMENT_TRANSITIONS``,
``DISPUTE_TRANSITIONS``, ``AUTOPAY_TRANSITIONS``): ``{from_status: frozenset(to_statuses)}``.
Services call ``transition(row, to, table=...)`` on a row they have locked; it checks the move,
makes it in memory and returns the previous status. Saving, the audit event and any e-mail stay
with the service, which knows what the change means.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from django.utils.translation import gettext as _

from .exceptions import ApplicationError

Table = Mapping[str, frozenset[str]]


def transition_allowed(table: Table, current: str, to: str) -> bool:
    return to in table.get(current, frozenset())


def transition(
    row,
    to: str,
    *,
    table: Table,
    field: str = "status",
    refused: Callable[[str, str], ApplicationError] | None = None,
) -> str:
    """Move ``row.<field>`` to ``to`` if the table allows it; returns the previous value.

    ``refused(current, to)`` builds the error for a move the table forbids (the model's own
    words); by default an ``ApplicationError`` with code ``invalid_transition``.
    """
    current = getattr(row, field)
    if not transition_allowed(table, current, to):
        if refused is not None:
            raise refused(current, to)
        raise ApplicationError(
            _("This cannot change from %(from)s to %(to)s.") % {"from": current, "to": to},
            code="invalid_transition",
        )
    setattr(row, field, to)
    return current
