"""A payment's status changes along ``PAYMENT_TRANSITIONS`` (payments/models.py), through the one
transition helper (``core.transitions.transition``); each change writes an audit event.

``payment_transition`` is the whole change for one payment whose row the caller holds locked.
Batches (``payments_open``, ``payments_settle``) make the changes in memory with
``payment_status_move``, write the rows together (``rows_update``) and the events in bulk
(``payment_status_event``).
"""

from __future__ import annotations

import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit_event_build
from accounts.models import AuditEvent, Company
from core.exceptions import ApplicationError
from core.metrics import PAYMENTS_FINAL
from core.transitions import transition

from ..models import PAYMENT_TRANSITIONS, Payment, PaymentStatus

# The statuses a payment never leaves (PAYMENT_TRANSITIONS: no move out of them).
FINAL_STATUSES = frozenset(status for status, moves in PAYMENT_TRANSITIONS.items() if not moves)


def _payment_billed_company(payment: Payment) -> Company | None:
    """A Pay Now payment has no paying company; its trail goes to the billed account's company."""
    allocation = payment.allocations.select_related("invoice__account__company", "invoice__plan__company").first()
    if allocation is None:
        return None
    billable = allocation.invoice.billable
    return billable.company if billable.company_id else None


def _refused(current: str, to: str) -> ApplicationError:
    return ApplicationError(
        _("A %(from)s payment cannot become %(to)s.") % {"from": current, "to": to},
        code="invalid_transition",
    )


def payment_status_move(payment: Payment, to: str, now: datetime.datetime | None = None) -> str:
    """Check one status change and make it in memory; returns the previous status."""
    previous = transition(payment, to, table=PAYMENT_TRANSITIONS, refused=_refused)
    if to in (PaymentStatus.SUCCEEDED, PaymentStatus.FAILED):
        payment.settled_at = now or timezone.now()
    if to in FINAL_STATUSES:
        # Every status change passes here: the metric of payments by outcome (core.metrics) moves
        # once the change is committed, so a change rolled back is never counted.
        transaction.on_commit(PAYMENTS_FINAL.labels(outcome=str(to)).inc)
    return previous


def payment_status_event(payment: Payment, previous: str, *, actor=None, data=None, company_id=None) -> AuditEvent:
    """The audit event of a change made by ``payment_status_move``, unsaved (to the billed company for Pay Now)."""
    company_id = company_id or payment.company_id
    if company_id is None:
        billed = _payment_billed_company(payment)
        company_id = billed.id if billed else None
    return audit_event_build(
        action=f"payment.{payment.status}",
        actor=actor,
        company_id=company_id,
        target=payment,
        data={"from": previous, "amount": str(payment.amount), "currency": payment.currency, **(data or {})},
    )


def rows_update(rows: list, fields: list[str]) -> None:
    """Write ``fields`` of many rows of one model: one UPDATE per distinct set of values.

    For rows that mostly get the same values (statuses, outcomes): ``bulk_update`` spells every
    row out in a ``CASE``, which costs far more in Python and in the database.
    """
    groups: dict[tuple, list] = {}
    for row in rows:
        groups.setdefault(tuple(getattr(row, name) for name in fields), []).append(row.pk)
    for values, pks in groups.items():
        type(rows[0]).objects.filter(pk__in=pks).update(**dict(zip(fields, values, strict=True)))


def payment_transition(*, payment: Payment, to: str, actor=None, data: dict | None = None) -> Payment:
    """The one place a single payment changes status; the caller holds the row lock."""
    previous = payment_status_move(payment, to)
    payment.save()
    payment_status_event(payment, previous, actor=actor, data=data).save()
    return payment
