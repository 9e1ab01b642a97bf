"""Settling payments: the gateway's answers applied, scheduled payments run, processing ones reconciled.

Lock order (invoices/locks.py): the payment rows first (by id), then their invoices, last, in id
order (``invoices_lock``). What an invoice owes changes only through the invoices app
(``invoice_payments_apply``), never above its balance: the rest of a payment is recorded as
unapplied. Settling is idempotent: a payment no longer processing is left as it is (a webhook and
reconciliation may both arrive).
"""

from __future__ import annotations

import datetime
import logging
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import AuditEvent
from core.exceptions import ApplicationError
from invoices.locks import invoices_lock
from invoices.services import invoice_payments_apply

from ..gateways import ChargeResult, Outcome, get_gateway
from ..models import Payment, PaymentAllocation, PaymentStatus
from .charge import PaymentSource, payment_charge
from .checks import decline_message
from .receipt_delivery import payment_receipt_schedule
from .status import payment_status_event, payment_status_move, payment_transition, rows_update

logger = logging.getLogger(__name__)

# A processing payment the gateway has never heard of after this long was never sent.
NOT_SENT_AFTER = datetime.timedelta(minutes=15)


def payment_settle(*, payment_id: int, result: ChargeResult, actor=None, source: str = "charge") -> Payment:
    """Apply the gateway's answer to a processing payment; idempotent."""
    return payments_settle(results=[(payment_id, result)], actor=actor, source=source)[0]


def payments_settle(*, results: list[tuple[int, ChargeResult]], actor=None, source: str = "charge") -> list[Payment]:
    """Apply the gateway's answers to processing payments in one transaction; idempotent.

    Locks the payments, then the invoices of the ones that succeeded (id order), and applies each
    allocation up to the invoice's balance (never above it: the rest is recorded as unapplied).
    A payment no longer processing is left as it is (a webhook and reconciliation may both arrive).
    An unknown answer leaves the payment processing until ``payment_reconcile`` settles it. Returns
    the payments in the order of ``results``.
    """
    results = list(results)
    if not results:
        return []
    with transaction.atomic():
        locked = {
            p.id: p
            for p in Payment.objects.select_for_update().filter(id__in=[pid for pid, _r in results]).order_by("id")
        }
        missing = [pid for pid, _r in results if pid not in locked]
        if missing:
            raise Payment.DoesNotExist(f"no payment {missing[0]}")
        todo = [(locked[pid], result) for pid, result in results if locked[pid].status == PaymentStatus.PROCESSING]
        paid_ids = [p.id for p, result in todo if result.outcome == Outcome.SUCCEEDED]
        allocations: dict[int, list[PaymentAllocation]] = {}
        for allocation in PaymentAllocation.objects.filter(payment_id__in=paid_ids).order_by("invoice_id"):
            allocations.setdefault(allocation.payment_id, []).append(allocation)
        invoices = {
            inv.id: inv
            for inv in invoices_lock({a.invoice_id for group in allocations.values() for a in group}, related=())
        }
        to_apply: list[tuple[int, Decimal]] = []
        succeeded: list[tuple[Payment, int, int]] = []  # payment, its first and last index in to_apply
        moves = []
        now = timezone.now()
        for payment, result in todo:
            if result.reference and not payment.gateway_reference:
                payment.gateway_reference = result.reference
            if result.outcome == Outcome.SUCCEEDED:
                start = len(to_apply)
                to_apply.extend((a.invoice_id, a.amount) for a in allocations.get(payment.id, []))
                succeeded.append((payment, start, len(to_apply)))
                to = PaymentStatus.SUCCEEDED
                data = {"source": source, "gateway_reference": payment.gateway_reference}
                payment_receipt_schedule(payment.id)
            elif result.outcome == Outcome.DECLINED:
                payment.failure_code = result.decline_code[:60]
                payment.failure_message = decline_message(result.decline_code)[:300]
                to = PaymentStatus.FAILED
                data = {"source": source, "code": result.decline_code, "kind": str(result.decline_kind or "")}
            elif (
                result.outcome == Outcome.NOT_FOUND
                and timezone.now() - (payment.sent_at or payment.created_at) >= NOT_SENT_AFTER
            ):
                # Unknown to the gateway: never sent (a crash, or a batch that has not reached it:
                # payment_charge will not send it now), or sent and lost long enough ago.
                payment.failure_code = "not_sent"
                payment.failure_message = decline_message("not_sent")[:300]
                to = PaymentStatus.FAILED
                data = {"source": source}
            else:
                continue  # unknown: stays processing until reconciled (with the gateway's reference, if any)
            moves.append((payment, payment_status_move(payment, to, now), data))
        # The invoices app applies the amounts, in the order of the payments, never above a balance.
        applied = invoice_payments_apply(invoices=invoices, amounts=to_apply)
        unapplied = {
            payment.id: sum(
                (amount - done for (_i, amount), done in zip(to_apply[a:b], applied[a:b], strict=True)), Decimal(0)
            )
            for payment, a, b in succeeded
        }
        events = []
        for payment, previous, data in moves:
            if payment.id in unapplied:
                data["unapplied"] = str(unapplied[payment.id])
            events.append(payment_status_event(payment, previous, actor=actor, data=data))
        rows_update([p for p, _r in todo], ["status", "settled_at", "failure_code", "failure_message"])
        Payment.objects.bulk_update([p for p, r in todo if r.reference], ["gateway_reference"])
        AuditEvent.objects.bulk_create(events)
    return [locked[pid] for pid, _r in results]


def payment_cancel(*, payment: Payment, actor, reason: str = "cancelled_by_user") -> Payment:
    """Cancel a scheduled payment; its invoices become payable again."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if payment.status != PaymentStatus.SCHEDULED:
            raise ApplicationError(_("Only a scheduled payment can be cancelled."), code="not_scheduled")
        return payment_transition(payment=payment, to=PaymentStatus.CANCELLED, actor=actor, data={"reason": reason})


def payment_scheduled_run(*, payment_id: int, actor=None) -> Payment:
    """Carry out a scheduled payment on its date (called by the daily AutoPay run).

    The same two steps as a payment made today: committed as processing, then charged, then
    settled. If an invoice's balance fell below its share meanwhile (a credit), or the wallet
    method is gone, the payment is cancelled and nothing is charged. Locks: the payment, then its
    invoices (``invoices_lock``).
    """
    with transaction.atomic():
        payment = Payment.objects.select_for_update(of=("self",)).select_related("method").get(pk=payment_id)
        if payment.status != PaymentStatus.SCHEDULED:
            return payment
        allocations = list(payment.allocations.order_by("invoice_id"))
        locked = {inv.id: inv for inv in invoices_lock([a.invoice_id for a in allocations], related=())}
        if payment.method is None:
            return payment_transition(
                payment=payment, to=PaymentStatus.CANCELLED, actor=actor, data={"reason": "method_deleted"}
            )
        if any(locked[a.invoice_id].balance < a.amount for a in allocations):
            return payment_transition(
                payment=payment, to=PaymentStatus.CANCELLED, actor=actor, data={"reason": "balance_changed"}
            )
        payment_transition(payment=payment, to=PaymentStatus.PENDING, actor=actor)
        payment_transition(payment=payment, to=PaymentStatus.PROCESSING, actor=actor)
    result = payment_charge(payment, PaymentSource.from_method(payment.method))
    return payment_settle(payment_id=payment.id, result=result, actor=actor)


def payment_reconcile(*, payment: Payment | None = None, older_than: datetime.timedelta | None = None) -> list[Payment]:
    """Ask the gateway for the real outcome of processing payments and settle them."""
    queryset = Payment.objects.filter(status=PaymentStatus.PROCESSING).order_by("id")
    if payment is not None:
        queryset = queryset.filter(pk=payment.pk)
    if older_than is not None:
        queryset = queryset.filter(created_at__lte=timezone.now() - older_than)
    done = []
    for row in queryset:
        try:
            result = get_gateway(row.gateway).retrieve(
                idempotency_key=row.idempotency_key, reference=row.gateway_reference
            )
        except Exception:  # noqa: BLE001 - try again on the next run
            logger.exception("Could not retrieve payment %s from the gateway", row.reference)
            continue
        done.append(payment_settle(payment_id=row.id, result=result, source="reconcile"))
    return done
