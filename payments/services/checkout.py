"""Paying invoices: one attempt (``payment_create``) or many at once (``payments_open``).

A payment is never taken twice:

1. ``payment_create`` takes an idempotency key chosen when the review page was rendered; the key
   is unique in the database, so a double click, a second tab or a replayed POST finds the first
   payment instead of making another (``attempts.attempt_replay``).
2. The invoices are locked while the payment row is written (``invoices_lock``: the invoices to
   pay and the credit invoices of their accounts/plans, in one statement, in id order); balances
   are re-checked inside the lock, and amounts already reserved by payments in flight (pending,
   processing, scheduled) count as taken, so two attempts on the same invoice at the same moment
   produce one charge.
3. The payment row is committed as *processing* BEFORE the gateway is called (``payment_charge``):
   a crash or a timeout leaves a row that ``payment_reconcile`` settles by asking the gateway,
   never by charging again.
4. Settlement is a second transaction that locks the payment and its invoices and applies the
   amounts (``settlement.payments_settle``); it never takes an invoice above its balance and does
   nothing when the payment is already settled (webhooks and reconciliation may both arrive).

AutoPay takes these steps for a whole schedule at once: ``payments_open`` writes the payments of
many attempts in one transaction, ``payment_charge`` asks the gateway for each, and
``payments_settle`` applies the answers in one transaction.
"""

from __future__ import annotations

import datetime
import secrets
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit_event_build
from accounts.models import AuditEvent, Company
from core.exceptions import ApplicationError
from core.money import quantize
from invoices.locks import invoices_lock
from invoices.services import invoice_credits_apply

from ..models import CreditApplication, MethodKind, Payment, PaymentAllocation, PaymentStatus
from .attempts import PaymentOutcome, attempt_replay, attempts_replay
from .charge import PaymentSource, payment_charge
from .checks import InvoiceCheck, Reason, invoice_checks
from .credits import credit_candidate_ids, credits_plan
from .settlement import payments_settle
from .status import payment_status_event, payment_status_move


def _reference_new() -> str:
    return f"PM{timezone.localdate():%y%m%d}{secrets.token_hex(4).upper()}"


def _payable_checked(
    checks: list[InvoiceCheck], *, source: PaymentSource, company: Company | None, scheduled_for, today
) -> tuple[list[InvoiceCheck], int | None, datetime.date | None]:
    """The payable invoices of one attempt, its paying company and date; ``ApplicationError`` if refused."""
    payable = [check for check in checks if check.payable]
    refused_for_method = [c for c in checks if c.reason == Reason.METHOD_NOT_ALLOWED]
    if refused_for_method:
        raise ApplicationError(
            _("%(kind)s is not accepted for invoice %(numbers)s. Choose another payment type.")
            % {
                "kind": MethodKind(source.kind).label,
                "numbers": ", ".join(c.invoice.number for c in refused_for_method),
            },
            field="method",
            code="method_not_allowed",
        )
    if not payable:
        raise ApplicationError(
            _("None of these invoices can be paid now: they are paid, in progress or cannot be paid online."),
            code="nothing_payable",
        )
    companies = {check.billable.company_id for check in payable}
    if company is not None and companies != {company.id}:
        raise ApplicationError(_("Pay the invoices of one company at a time."), code="mixed_companies")
    if len(companies) > 1:
        raise ApplicationError(_("Pay the invoices of one company at a time."), code="mixed_companies")
    if source.method is not None and source.method.company_id not in companies:
        raise ApplicationError(_("Choose a payment method of this company's wallet."), field="method")
    if scheduled_for is not None:
        latest = min(check.invoice.due_date for check in payable)
        if scheduled_for <= today:
            scheduled_for = None
        elif scheduled_for > latest:
            raise ApplicationError(
                _("Choose a date no later than the due date (%(date)s).") % {"date": latest.isoformat()},
                field="pay_on",
            )
        elif source.method is None:
            raise ApplicationError(_("A scheduled payment needs a payment method saved in the wallet."), field="method")
    return payable, companies.pop(), scheduled_for


def _references_new(count: int) -> list[str]:
    """``count`` payment references, none of them taken yet (one query)."""
    references: set[str] = set()
    while len(references) < count:
        fresh = {_reference_new() for _ in range(count - len(references))} - references
        taken = set(Payment.objects.filter(reference__in=fresh).values_list("reference", flat=True))
        references |= fresh - taken
    return sorted(references)


@dataclass
class PaymentRequest:
    """One attempt to pay invoices in full: its idempotency key and the invoices."""

    idempotency_key: str
    invoice_ids: list[int]


@dataclass
class _Opened:
    """What one attempt writes, before it is written (payments and credits get their ids in bulk)."""

    key: str
    owner: Company | None
    scheduled_for: datetime.date | None
    groups: list[tuple[Payment, list[InvoiceCheck]]]
    credits: list[CreditApplication]


def payments_open(
    *,
    requests: list[PaymentRequest],
    source: PaymentSource,
    actor=None,
    company: Company | None = None,
    scheduled_for: datetime.date | None = None,
    payer_email: str = "",
    ip_address: str | None = None,
) -> dict[str, PaymentOutcome | ApplicationError]:
    """Write the payments of many attempts (steps 1 and 2 of the module docstring), none charged yet.

    In one transaction: lock the invoices and the credit invoices of their accounts/plans (id
    order), re-check balances against payments in flight, use credits first, and write one payment
    per attempt and currency as *processing* (or *scheduled*) with its allocations, credit
    applications and audit events. The attempts must not share invoices. Answers, by key: the
    attempt's payments (replayed when the key was used before), or the ``ApplicationError`` that
    refused it; a refused attempt writes nothing and does not stop the others. Charging is the
    caller's next step, after the commit: ``payment_charge`` then ``payments_settle``.
    """
    answers: dict[str, PaymentOutcome | ApplicationError] = {}
    if not requests:
        return answers
    requested = [invoice_id for request in requests for invoice_id in request.invoice_ids]
    if len(set(requested)) != len(requested) and len(requests) > 1:
        raise ValueError("attempts paid together must not share invoices")
    gateway_name = source.gateway or settings.PAYMENT_GATEWAY
    today = timezone.localdate()
    with transaction.atomic():
        # The invoices to pay and the credit invoices of the same accounts/plans, locked in one
        # statement in id order, so two attempts always lock in the same order.
        lock_ids = set(requested) | set(credit_candidate_ids(sorted(set(requested))))
        locked = {inv.id: inv for inv in invoices_lock(lock_ids)}
        credit_pool = [inv for inv in locked.values() if inv.balance < 0]
        available = {inv.id: min(-inv.balance, inv.amount_paid) for inv in credit_pool if inv.amount_paid > 0}
        # Another request with the same key may have finished while we waited for the locks.
        replays = attempts_replay(
            {r.idempotency_key: {locked[i].currency for i in r.invoice_ids if i in locked} for r in requests}
        )
        checks = {
            check.invoice.id: check
            for check in invoice_checks(
                [locked[i] for i in sorted(set(requested)) if i in locked], method_kind=source.kind
            )
        }
        opened: list[_Opened] = []
        for request in requests:
            key = request.idempotency_key
            if key in replays:
                answers[key] = replays[key]
                continue
            try:
                payable, owner_id, pay_on = _payable_checked(
                    [checks[i] for i in sorted(set(request.invoice_ids)) if i in checks],
                    source=source,
                    company=company,
                    scheduled_for=scheduled_for,
                    today=today,
                )
            except ApplicationError as refusal:
                answers[key] = refusal
                continue
            owner = company or (Company.objects.get(pk=owner_id) if owner_id else None)
            credits = credits_plan(
                payable=payable, pool=credit_pool, available=available, idempotency_key=key, actor=actor
            )
            by_currency: dict[str, list[InvoiceCheck]] = {}
            for check in payable:
                if check.amount > 0:
                    by_currency.setdefault(check.invoice.currency, []).append(check)
            groups = []
            for currency, group in sorted(by_currency.items()):
                payment = Payment(
                    idempotency_key=f"{key}:{currency}",
                    # A logged-in payer or a company's AutoPay (company given); Pay Now has none.
                    company=owner if (getattr(actor, "is_authenticated", False) or company is not None) else None,
                    currency=currency,
                    amount=quantize(sum((c.amount for c in group), Decimal(0)), currency),
                    status=PaymentStatus.SCHEDULED if pay_on else PaymentStatus.PENDING,
                    method=source.method,
                    method_kind=source.kind,
                    method_label=source.label[:80],
                    gateway=gateway_name,
                    scheduled_for=pay_on,
                    created_by=actor if getattr(actor, "is_authenticated", False) else None,
                    payer_email=payer_email,
                )
                groups.append((payment, group))
            opened.append(_Opened(key=key, owner=owner, scheduled_for=pay_on, groups=groups, credits=credits))
        _opened_write(opened, actor=actor, company=company, ip_address=ip_address)
    for attempt in opened:
        answers[attempt.key] = PaymentOutcome(payments=[p for p, _g in attempt.groups], credits=attempt.credits)
    return answers


def _opened_write(opened: list[_Opened], *, actor, company: Company | None, ip_address: str | None) -> None:
    """Insert what ``payments_open`` prepared: payments, allocations, credits, audit events (one statement each)."""
    payments = [payment for attempt in opened for payment, _group in attempt.groups]
    for payment, reference in zip(payments, _references_new(len(payments)), strict=True):
        payment.reference = reference
    # Written as processing at once: the pending state is never committed on its own.
    moves = {id(p): payment_status_move(p, PaymentStatus.PROCESSING) for p in payments if not p.scheduled_for}
    Payment.objects.bulk_create(payments)
    PaymentAllocation.objects.bulk_create(
        PaymentAllocation(payment=payment, invoice=check.invoice, amount=check.amount)
        for attempt in opened
        for payment, group in attempt.groups
        for check in group
    )
    credits = []
    for attempt in opened:
        by_currency = {p.currency: p for p, _g in attempt.groups}
        for application in attempt.credits:
            application.payment = by_currency.get(application.currency)
        credits.extend(attempt.credits)
    CreditApplication.objects.bulk_create(credits)
    # What the invoices owe moves through the invoices app (the rows are locked by payments_open).
    invoice_credits_apply(moves=[(c.source_invoice_id, c.target_invoice_id, c.amount) for c in credits])
    events = []
    pay_now = company is None and not getattr(actor, "is_authenticated", False)
    for attempt in opened:
        owner_id = attempt.owner.id if attempt.owner else None
        for payment, group in attempt.groups:
            events.append(
                audit_event_build(
                    action="payment.scheduled" if attempt.scheduled_for else "payment.created",
                    actor=actor,
                    company_id=owner_id,
                    target=payment,
                    data={
                        "amount": str(payment.amount),
                        "currency": payment.currency,
                        "invoices": [c.invoice.number for c in group],
                        "method": payment.method_label,
                        "scheduled_for": attempt.scheduled_for.isoformat() if attempt.scheduled_for else None,
                        "pay_now": pay_now,
                    },
                    ip_address=ip_address,
                )
            )
            if id(payment) in moves:
                events.append(payment_status_event(payment, moves[id(payment)], actor=actor, company_id=owner_id))
        for application in attempt.credits:
            events.append(
                audit_event_build(
                    action="credit.applied",
                    actor=actor,
                    company_id=owner_id,
                    target=application.target_invoice,
                    data={
                        "from_invoice": application.source_invoice.number,
                        "to_invoice": application.target_invoice.number,
                        "amount": str(application.amount),
                        "currency": application.currency,
                        "payment": application.payment.reference if application.payment else None,
                    },
                    ip_address=ip_address,
                )
            )
    AuditEvent.objects.bulk_create(events)


def payment_create(
    *,
    actor,
    invoice_ids: list[int],
    source: PaymentSource,
    idempotency_key: str,
    company: Company | None = None,
    scheduled_for: datetime.date | None = None,
    payer_email: str = "",
    ip_address: str | None = None,
) -> PaymentOutcome:
    """Pay the full remaining balance of the invoices, one payment per currency.

    Returns the payments of this attempt; a key already used returns its payments unchanged.
    Raises ``ApplicationError`` when nothing can be paid or the method is not allowed.
    """
    if not idempotency_key:
        raise ApplicationError(_("This payment form has expired. Review the payment again."), code="no_key")
    replay = attempt_replay(idempotency_key)
    if replay is not None:
        return replay
    try:
        [answer] = payments_open(
            requests=[PaymentRequest(idempotency_key=idempotency_key, invoice_ids=list(invoice_ids))],
            source=source,
            actor=actor,
            company=company,
            scheduled_for=scheduled_for,
            payer_email=payer_email,
            ip_address=ip_address,
        ).values()
    except IntegrityError:
        # The same key committed by a concurrent request: its payments are the answer.
        replay = attempt_replay(idempotency_key)
        if replay is not None:
            return replay
        raise
    if isinstance(answer, ApplicationError):
        raise answer
    if answer.replayed:
        return answer
    # Committed as processing: now, and only now, the gateway is asked to charge.
    charged = [(p.id, payment_charge(p, source)) for p in answer.payments if p.status == PaymentStatus.PROCESSING]
    settled = {p.id: p for p in payments_settle(results=charged, actor=actor)}
    return PaymentOutcome(payments=[settled.get(p.id, p) for p in answer.payments], credits=answer.credits)
