"""Writes for payments: wallet, one-time and Pay Now payments, settlement, reconciliation.

Stripe webhooks, which settle through ``payment_settle``, live in ``payments/webhooks.py``.

A payment is never taken twice:

1. ``payment_create`` takes an idempotency key chosen when the review page was rendered; the key
   is unique in the database, so a double click, a second tab or a replayed POST finds the first
   payment instead of making another.
2. The invoices are locked (``select_for_update``, always in id order) while the payment row is
   written; balances are re-checked inside the lock, and amounts already reserved by payments in
   flight (pending, processing, scheduled) count as taken, so two attempts on the same invoice at
   the same moment produce one charge.
3. The payment row is committed as *processing* BEFORE the gateway is called: a crash or a
   timeout leaves a row that ``payment_reconcile`` settles by asking the gateway, never by
   charging again.
4. Settlement is a second transaction that locks the payment and its invoices and applies the
   amounts; it never takes an invoice above its balance and does nothing when the payment is
   already settled (webhooks and reconciliation may both arrive).

``payment_create`` is these steps for one attempt. AutoPay takes them for a whole schedule at once:
``payments_open`` writes the payments of many attempts in one transaction, ``payment_charge`` asks
the gateway for each, and ``payments_settle`` applies the answers in one transaction.
"""

from __future__ import annotations

import datetime
import logging
import secrets
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import AuditEvent, Company, Membership, Role, ShippingAccount
from accounts.services import audit_event_build, audit_record
from core.exceptions import ApplicationError
from core.money import quantize
from core.queue import enqueue, enqueue_on_commit
from invoices.figures_cache import invoice_figures_changed_for
from invoices.models import Invoice, InvoiceStatus

from .gateways import ChargeResult, DeclineKind, Outcome, SavedMethod, get_gateway
from .models import (
    PAYMENT_TRANSITIONS,
    AutoPaySchedule,
    CreditApplication,
    GatewayCustomer,
    MethodKind,
    Payment,
    PaymentAllocation,
    PaymentAttemptClaim,
    PaymentMethod,
    PaymentStatus,
    ShippingAccountPaymentOption,
)

logger = logging.getLogger(__name__)

# Payments whose amounts are taken from an invoice's balance until they settle.
IN_FLIGHT = (PaymentStatus.PENDING, PaymentStatus.PROCESSING, PaymentStatus.SCHEDULED)

# A processing payment the gateway has never heard of after this long was never sent.
NOT_SENT_AFTER = datetime.timedelta(minutes=15)

DECLINE_MESSAGES = {
    "insufficient_funds": gettext_lazy(
        "The payment was declined for insufficient funds. Nothing was charged and the invoices are still "
        "open: use another payment method or try again later."
    ),
    "expired_card": gettext_lazy(
        "The card has expired. Nothing was charged and the invoices are still open: update the expiry "
        "date in your wallet or use another payment method."
    ),
    "processing_error": gettext_lazy(
        "The card issuer could not process the payment. Nothing was charged and the invoices are still "
        "open: try again in a few minutes."
    ),
    "card_declined": gettext_lazy(
        "The payment was declined by the card issuer. Nothing was charged and the invoices are still "
        "open: use another payment method."
    ),
    "not_sent": gettext_lazy("The payment was not sent to the gateway. Nothing was charged."),
}
DECLINE_DEFAULT = gettext_lazy(
    "The payment was declined. Nothing was charged and the invoices are still open: use another payment method."
)


def decline_message(code: str) -> str:
    return str(DECLINE_MESSAGES.get(code, DECLINE_DEFAULT))


# --- Payment types by country (R8) -------------------------------------------------------------


def payment_kinds_for_country(country: str) -> list[str]:
    table = settings.PAYMENT_TYPES_BY_COUNTRY
    return list(table.get(country, table.get("default", [])))


def online_services_for_country(country: str) -> list[str]:
    table = getattr(settings, "ONLINE_PAYMENT_SERVICES", {})
    return list(table.get(country, table.get("default", [])))


def kind_allowed(kind: str, country: str) -> bool:
    return kind in payment_kinds_for_country(country)


# --- What can be paid --------------------------------------------------------------------------


class Reason:
    TEMPORARY = "temporary"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NO_ONLINE_PAYMENT = "no_online_payment"
    PAID = "paid"
    NOTHING_DUE = "nothing_due"
    IN_PROGRESS = "in_progress"


REASON_TEXT = {
    Reason.TEMPORARY: gettext_lazy(
        "The account number is a temporary 10-digit number: it cannot be paid online. Call the billing contact."
    ),
    Reason.METHOD_NOT_ALLOWED: gettext_lazy("The chosen payment type is not accepted for this account's country."),
    Reason.NO_ONLINE_PAYMENT: gettext_lazy("Online payment is not offered for this account's country."),
    Reason.PAID: gettext_lazy("Already paid."),
    Reason.NOTHING_DUE: gettext_lazy("Nothing is due."),
    Reason.IN_PROGRESS: gettext_lazy("A payment for this invoice is already in progress or scheduled."),
}


@dataclass
class InvoiceCheck:
    """One invoice on the review page: payable (with the amount) or not (with why and whom to call)."""

    invoice: Invoice
    amount: Decimal
    reason: str = ""

    @property
    def payable(self) -> bool:
        return not self.reason

    @property
    def reason_text(self) -> str:
        return str(REASON_TEXT.get(self.reason, ""))

    @property
    def billable(self):
        return self.invoice.billable


def reserved_amounts(invoice_ids) -> dict[int, Decimal]:
    """What payments in flight already take from each invoice (one query)."""
    rows = (
        PaymentAllocation.objects.filter(invoice_id__in=list(invoice_ids), payment__status__in=IN_FLIGHT)
        .order_by()
        .values("invoice_id")
        .annotate(total=Sum("amount"))
    )
    return {row["invoice_id"]: row["total"] for row in rows}


def invoice_checks(invoices, *, method_kind: str | None = None) -> list[InvoiceCheck]:
    """Sort invoices into payable and not, with the reason (R1, R8, R20). Invoices need account/plan loaded."""
    invoices = list(invoices)
    reserved = reserved_amounts(inv.id for inv in invoices)
    checks = []
    for invoice in invoices:
        billable = invoice.billable
        remaining = invoice.balance - reserved.get(invoice.id, Decimal(0))
        if isinstance(billable, ShippingAccount) and billable.is_temporary:
            reason = Reason.TEMPORARY
        elif not payment_kinds_for_country(billable.country):
            reason = Reason.NO_ONLINE_PAYMENT
        elif method_kind and not kind_allowed(method_kind, billable.country):
            reason = Reason.METHOD_NOT_ALLOWED
        elif invoice.status == InvoiceStatus.PAID and invoice.amount_paid > 0:
            reason = Reason.PAID
        elif invoice.balance <= 0:
            reason = Reason.NOTHING_DUE
        elif remaining <= 0:
            reason = Reason.IN_PROGRESS
        else:
            reason = ""
        checks.append(InvoiceCheck(invoice=invoice, amount=max(remaining, Decimal(0)), reason=reason))
    return checks


def totals_by_currency(checks: list[InvoiceCheck]) -> list[tuple[str, Decimal]]:
    totals: dict[str, Decimal] = {}
    for check in checks:
        if check.payable:
            totals[check.invoice.currency] = totals.get(check.invoice.currency, Decimal(0)) + check.amount
    return sorted(totals.items())


def idempotency_key_new() -> str:
    """One per payment attempt, put in the review form when it is rendered."""
    return secrets.token_urlsafe(24)


def _reference_new() -> str:
    return f"PM{timezone.localdate():%y%m%d}{secrets.token_hex(4).upper()}"


def payments_for_attempt(idempotency_key: str):
    return Payment.objects.filter(idempotency_key__startswith=f"{idempotency_key}:").order_by("currency")


# --- Status transitions ------------------------------------------------------------------------


def _payment_billed_company(payment: Payment) -> Company | None:
    """A Pay Now payment has no paying company; its trail goes to the billed account's company."""
    allocation = payment.allocations.select_related("invoice__account__company", "invoice__plan__company").first()
    if allocation is None:
        return None
    billable = allocation.invoice.billable
    return billable.company if billable.company_id else None


def _transition_apply(payment: Payment, to: str, now: datetime.datetime | None = None) -> str:
    """Check one status change and make it in memory; returns the previous status."""
    allowed = PAYMENT_TRANSITIONS.get(payment.status, frozenset())
    if to not in allowed:
        raise ApplicationError(
            _("A %(from)s payment cannot become %(to)s.") % {"from": payment.status, "to": to},
            code="invalid_transition",
        )
    previous = payment.status
    payment.status = to
    if to in (PaymentStatus.SUCCEEDED, PaymentStatus.FAILED):
        payment.settled_at = now or timezone.now()
    return previous


def _transition_event(payment: Payment, previous: str, *, actor=None, data=None, company_id=None) -> AuditEvent:
    """The audit event of a change made by ``_transition_apply``, unsaved (to the billed company for Pay Now)."""
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
    """The one place a payment changes status; the caller holds the row lock."""
    previous = _transition_apply(payment, to)
    payment.save()
    _transition_event(payment, previous, actor=actor, data=data).save()
    return payment


# --- One-time payment (R5, R20) and Pay Now (R3, R7) -------------------------------------------


@dataclass
class PaymentSource:
    """What pays: a wallet entry, or a token used once (Pay Now, or a new method not saved)."""

    kind: str
    token: str
    label: str
    method: PaymentMethod | None = None
    gateway: str = ""
    customer: str = ""

    @classmethod
    def from_method(cls, method: PaymentMethod) -> PaymentSource:
        customer = (
            GatewayCustomer.objects.filter(company_id=method.company_id, gateway=method.gateway)
            .values_list("customer_id", flat=True)
            .first()
        )
        return cls(
            kind=method.kind,
            token=method.gateway_token,
            label=str(method)[:80],
            method=method,
            gateway=method.gateway,
            customer=customer or "",
        )


@dataclass
class PaymentOutcome:
    payments: list[Payment] = field(default_factory=list)
    replayed: bool = False
    credits: list[CreditApplication] = field(default_factory=list)


def credits_for_attempt(idempotency_key: str):
    return CreditApplication.objects.filter(idempotency_key=idempotency_key).order_by("id")


def attempt_exists(idempotency_key: str) -> bool:
    return bool(idempotency_key) and (
        payments_for_attempt(idempotency_key).exists() or credits_for_attempt(idempotency_key).exists()
    )


# A claim older than this is from a request that died (longer than any gateway call takes).
ATTEMPT_CLAIM_TTL = datetime.timedelta(minutes=2)


def attempt_claim(*, idempotency_key: str, user) -> bool:
    """Start working on a confirmed pay form: True for the one request that may, False for a duplicate.

    A row with the key, unique in the database (``PaymentAttemptClaim``), committed at once so a
    concurrent request with the same key sees it. Release it with ``attempt_release``.
    """
    PaymentAttemptClaim.objects.filter(
        idempotency_key=idempotency_key, created_at__lt=timezone.now() - ATTEMPT_CLAIM_TTL
    ).delete()
    try:
        with transaction.atomic():
            PaymentAttemptClaim.objects.create(idempotency_key=idempotency_key, user=user)
    except IntegrityError:
        return False
    return True


def attempt_release(*, idempotency_key: str) -> None:
    PaymentAttemptClaim.objects.filter(idempotency_key=idempotency_key).delete()


def attempt_in_progress(*, idempotency_key: str, user) -> bool:
    """True while the user's request with this key is still working on it (nothing written yet)."""
    return PaymentAttemptClaim.objects.filter(
        idempotency_key=idempotency_key, user=user, created_at__gte=timezone.now() - ATTEMPT_CLAIM_TTL
    ).exists()


def _replay(idempotency_key: str) -> PaymentOutcome | None:
    payments = list(payments_for_attempt(idempotency_key))
    credits = list(credits_for_attempt(idempotency_key))
    if payments or credits:
        return PaymentOutcome(payments=payments, credits=credits, replayed=True)
    return None


def _replays(keys_and_currencies: dict[str, set[str]]) -> dict[str, PaymentOutcome]:
    """``_replay`` of many attempts in two queries; a payment's key is ``<attempt key>:<currency>``."""
    payment_keys = [f"{key}:{currency}" for key, currencies in keys_and_currencies.items() for currency in currencies]
    found: dict[str, PaymentOutcome] = {}
    for payment in Payment.objects.filter(idempotency_key__in=payment_keys).order_by("currency"):
        key = payment.idempotency_key.rsplit(":", 1)[0]
        found.setdefault(key, PaymentOutcome(replayed=True)).payments.append(payment)
    for credit in CreditApplication.objects.filter(idempotency_key__in=list(keys_and_currencies)).order_by("id"):
        found.setdefault(credit.idempotency_key, PaymentOutcome(replayed=True)).credits.append(credit)
    return found


def _credit_candidate_ids(invoice_ids: list[int]) -> list[int]:
    """Invoices in credit of the same accounts/plans as these (read before locking, re-checked after)."""
    rows = list(Invoice.objects.filter(id__in=invoice_ids).values_list("account_id", "plan_id"))
    accounts = {a for a, _p in rows if a}
    plans = {p for _a, p in rows if p}
    if not accounts and not plans:
        return []
    from django.db.models import Q

    return list(
        Invoice.objects.filter(status=InvoiceStatus.CREDIT)
        .filter(Q(account_id__in=accounts) | Q(plan_id__in=plans))
        .values_list("id", flat=True)
    )


def _apply_credits(
    *, payable: list[InvoiceCheck], pool: list[Invoice], available: dict[int, Decimal], idempotency_key: str, actor
) -> list[CreditApplication]:
    """Use credit balances of the same account or plan and currency first; the invoices are locked.

    ``available`` is what each credit invoice of ``pool`` still has to give (shared by the attempts
    of one batch, and lowered here). Lowers each ``check.amount`` by the credit used and moves the
    money between the invoices' ``amount_paid`` with ``F()``; returns unsaved ``CreditApplication`` rows.
    """
    applications = []
    for check in sorted(payable, key=lambda c: (c.invoice.due_date, c.invoice.number)):
        target = check.invoice
        for source in pool:
            if check.amount <= 0:
                break
            if source.id == target.id or available.get(source.id, Decimal(0)) <= 0:
                continue
            if (source.account_id, source.plan_id, source.currency) != (
                target.account_id,
                target.plan_id,
                target.currency,
            ):
                continue
            used = min(check.amount, available[source.id])
            Invoice.objects.filter(pk=source.id).update(amount_paid=F("amount_paid") - used)
            Invoice.objects.filter(pk=target.id).update(amount_paid=F("amount_paid") + used)
            available[source.id] -= used
            check.amount -= used
            applications.append(
                CreditApplication(
                    source_invoice=source,
                    target_invoice=target,
                    amount=used,
                    currency=target.currency,
                    idempotency_key=idempotency_key,
                    created_by=actor if getattr(actor, "is_authenticated", False) else None,
                )
            )
    return applications


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
        lock_ids = sorted(set(requested) | set(_credit_candidate_ids(sorted(set(requested)))))
        locked = {
            inv.id: inv
            for inv in Invoice.objects.select_for_update(of=("self",))
            .select_related("account", "plan")
            .filter(id__in=lock_ids)
            .order_by("id")
        }
        credit_pool = [inv for inv in locked.values() if inv.balance < 0]
        available = {inv.id: min(-inv.balance, inv.amount_paid) for inv in credit_pool if inv.amount_paid > 0}
        # Another request with the same key may have finished while we waited for the locks.
        replays = _replays(
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
            credits = _apply_credits(
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
    moves = {id(p): _transition_apply(p, PaymentStatus.PROCESSING) for p in payments if not p.scheduled_for}
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
    # Credits moved amounts between invoices: cached figures of large sets are stale.
    invoice_figures_changed_for(
        invoice_ids={inv_id for c in credits for inv_id in (c.source_invoice_id, c.target_invoice_id)}
    )
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
                events.append(_transition_event(payment, moves[id(payment)], actor=actor, company_id=owner_id))
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
    replay = _replay(idempotency_key)
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
        replay = _replay(idempotency_key)
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


def payment_charge(payment: Payment, source: PaymentSource) -> ChargeResult:
    """Ask the gateway to charge a payment committed as processing; any failure is an unknown outcome.

    The payment is first marked sent, in one conditional UPDATE, only while it is processing and
    unsent. Reconciliation fails a payment as never sent only under its row lock and only while
    it is unsent, so the two exclude each other: a payment failed as never sent is not charged
    afterwards (the answer is then "unknown", and ``payments_settle`` leaves a settled payment
    alone), and a payment marked sent is never failed as unsent while its charge is under way.
    """
    sent_at = timezone.now()
    marked = Payment.objects.filter(pk=payment.pk, status=PaymentStatus.PROCESSING, sent_at__isnull=True).update(
        sent_at=sent_at
    )
    if not marked:
        logger.warning("Payment %s was not charged: no longer processing, or already sent", payment.reference)
        return ChargeResult.unknown()
    payment.sent_at = sent_at
    gateway = get_gateway(payment.gateway)
    try:
        return gateway.charge(
            token=source.token,
            amount=payment.amount,
            currency=payment.currency,
            idempotency_key=payment.idempotency_key,
            description=f"Billing Centre {payment.reference}",
            customer=source.customer,
            metadata={"payment_reference": payment.reference, "idempotency_key": payment.idempotency_key},
        )
    except Exception:  # noqa: BLE001 - any failure after sending leaves the outcome unknown
        logger.exception("Gateway charge failed for payment %s; left processing", payment.reference)
        return ChargeResult.unknown()


# Answers ``payments_settle`` applies for a charge the caller decided not to send (nothing was charged).
NOT_SENT = ChargeResult.declined("not_sent", DeclineKind.SOFT)


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
            for inv in Invoice.objects.select_for_update()
            .filter(id__in={a.invoice_id for group in allocations.values() for a in group})
            .order_by("id")
        }
        changed: dict[int, Invoice] = {}
        events = []
        now = timezone.now()
        for payment, result in todo:
            if result.reference and not payment.gateway_reference:
                payment.gateway_reference = result.reference
            if result.outcome == Outcome.SUCCEEDED:
                unapplied = Decimal(0)
                for allocation in allocations.get(payment.id, []):
                    invoice = invoices[allocation.invoice_id]
                    applied = min(allocation.amount, max(invoice.total - invoice.amount_paid, Decimal(0)))
                    unapplied += allocation.amount - applied
                    if applied > 0:
                        invoice.amount_paid += applied  # the row is locked: no one else changes it meanwhile
                        changed[invoice.id] = invoice
                to = PaymentStatus.SUCCEEDED
                data = {"source": source, "gateway_reference": payment.gateway_reference, "unapplied": str(unapplied)}
                _receipt_email_schedule(payment.id)
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
            previous = _transition_apply(payment, to, now)
            events.append(_transition_event(payment, previous, actor=actor, data=data))
        # The rows are locked: writing the new amounts is the same as adding to them. Paid in full
        # (the usual case) is one statement for all; the others spell out their amounts.
        paid_in_full = [inv.id for inv in changed.values() if inv.amount_paid == inv.total]
        Invoice.objects.filter(id__in=paid_in_full).update(amount_paid=F("total"))
        Invoice.objects.bulk_update([inv for inv in changed.values() if inv.id not in paid_in_full], ["amount_paid"])
        invoice_figures_changed_for(invoice_ids=changed)
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
    """Carry out a scheduled payment on its date (called by the scheduled-jobs issue's task).

    The same two steps as a payment made today: committed as processing, then charged, then
    settled. If an invoice's balance fell below its share meanwhile (a credit), or the wallet
    method is gone, the payment is cancelled and nothing is charged.
    """
    with transaction.atomic():
        payment = Payment.objects.select_for_update(of=("self",)).select_related("method").get(pk=payment_id)
        if payment.status != PaymentStatus.SCHEDULED:
            return payment
        allocations = list(payment.allocations.order_by("invoice_id"))
        locked = {
            inv.id: inv
            for inv in Invoice.objects.select_for_update()
            .filter(id__in=[a.invoice_id for a in allocations])
            .order_by("id")
        }
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


# --- Receipts ----------------------------------------------------------------------------------


# A succeeded payment whose receipt is not out after this long was not queued (or its message was
# lost): the sweep queues it again. Longer than a queued receipt normally waits for a worker.
RECEIPT_REQUEUE_AFTER = datetime.timedelta(minutes=5)
# The sweep looks back this far (a receipt days late is still worth sending; older ones are not).
RECEIPT_REQUEUE_WITHIN = datetime.timedelta(days=3)


def _receipt_email_schedule(payment_id: int) -> None:
    """Queue the receipt after the commit; a broker that is down costs nothing but a later sweep."""
    from .tasks import payment_receipt_send_task

    enqueue_on_commit(payment_receipt_send_task, payment_id)


def payment_receipt_deliver(*, payment_id: int) -> bool:
    """Send a succeeded payment's receipt once and mark it sent (the task behind every receipt).

    The payment row is locked while the receipt goes out and skipped when another worker holds
    it, so the original message and a sweep's copy never send two receipts; a failure to send
    leaves the marker empty and the sweep tries again.
    """
    with transaction.atomic():
        payment = (
            Payment.objects.select_for_update(of=("self",), skip_locked=True)
            .select_related("created_by")
            .filter(pk=payment_id, status=PaymentStatus.SUCCEEDED, receipt_sent_at__isnull=True)
            .first()
        )
        if payment is None:
            return False  # sent already, being sent by another worker, or not a succeeded payment
        sent = payment_receipt_send(payment=payment)
        if sent:
            Payment.objects.filter(pk=payment.pk).update(receipt_sent_at=timezone.now())
        return sent


def _receipt_recipient_known():
    from django.db.models import Q

    return ~Q(payer_email="") | (Q(created_by__isnull=False) & ~Q(created_by__email=""))


def payment_receipts_requeue(*, older_than: datetime.timedelta = RECEIPT_REQUEUE_AFTER) -> int:
    """Queue again the receipts of succeeded payments that are not out yet; how many were queued.

    A receipt is queued after the payment's commit (``_receipt_email_schedule``); when the broker
    was down then, or the message was lost, only this sweep (Celery beat, every few minutes) finds
    it. Queuing one twice is harmless: ``payment_receipt_deliver`` sends once.
    """
    from .tasks import payment_receipt_send_task

    now = timezone.now()
    due = (
        Payment.objects.filter(
            status=PaymentStatus.SUCCEEDED,
            receipt_sent_at__isnull=True,
            settled_at__lte=now - older_than,
            settled_at__gte=now - RECEIPT_REQUEUE_WITHIN,
        )
        .filter(_receipt_recipient_known())
        .order_by("settled_at", "id")
        .values_list("id", flat=True)
    )
    return sum(enqueue(payment_receipt_send_task, payment_id) for payment_id in due)


def payment_receipt_send(*, payment: Payment, to: str = "", language: str | None = None) -> bool:
    """E-mail the receipt with its PDF; to the payer's address or the user who paid."""
    from .receipts import receipt_context, render_receipt_pdf

    recipient = to or payment.payer_email or (payment.created_by.email if payment.created_by else "")
    if not recipient or payment.status != PaymentStatus.SUCCEEDED:
        return False
    language = language or settings.LANGUAGE_CODE
    with translation.override(language):
        context = receipt_context(payment)
        subject = " ".join(render_to_string("payments/email/receipt_subject.txt", context).split())
        body = render_to_string("payments/email/receipt_body.txt", context)
        message = EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [recipient])
        message.attach(
            f"receipt-{payment.reference}.pdf", render_receipt_pdf(payment, language=language), "application/pdf"
        )
    message.send(fail_silently=False)
    return True


# --- Wallet (R10) ------------------------------------------------------------------------------


def gateway_customer_get_or_create(*, company: Company, gateway_name: str | None = None) -> str:
    gateway_name = gateway_name or settings.PAYMENT_GATEWAY
    found = GatewayCustomer.objects.filter(company=company, gateway=gateway_name).first()
    if found:
        return found.customer_id
    customer_id = get_gateway(gateway_name).customer_create(name=company.name, company_id=company.id)
    try:
        with transaction.atomic():
            GatewayCustomer.objects.create(company=company, gateway=gateway_name, customer_id=customer_id)
    except IntegrityError:
        return GatewayCustomer.objects.get(company=company, gateway=gateway_name).customer_id
    return customer_id


@transaction.atomic
def payment_method_add(
    *, actor, company: Company, kind: str, saved: SavedMethod, nickname: str = "", make_default: bool = False
) -> PaymentMethod:
    """Keep a tokenised method: token and display facts only (never a card number or CVC)."""
    if not kind_allowed(kind, company.country):
        raise ApplicationError(_("This payment type is not offered in your country."), field="kind")
    methods = PaymentMethod.objects.select_for_update().filter(company=company)
    first = not methods.exists()
    if make_default or first:
        methods.filter(is_default=True).update(is_default=False)
    method = PaymentMethod.objects.create(
        company=company,
        kind=kind,
        nickname=nickname,
        holder_name=saved.holder_name[:120],
        brand=saved.brand[:30],
        last4=saved.last4[:4],
        exp_month=saved.exp_month,
        exp_year=saved.exp_year,
        gateway=settings.PAYMENT_GATEWAY,
        gateway_token=saved.token,
        is_default=make_default or first,
        created_by=actor,
    )
    audit_record(
        action="wallet.method_added",
        actor=actor,
        company=company,
        target=method,
        data={"kind": kind, "brand": method.brand, "last4": method.last4},
    )
    return method


@transaction.atomic
def payment_method_update(
    *, actor, method: PaymentMethod, nickname: str, exp_month: int | None = None, exp_year: int | None = None
) -> PaymentMethod:
    method = PaymentMethod.objects.select_for_update().get(pk=method.pk)
    changes = {}
    if nickname != method.nickname:
        changes["nickname"] = [method.nickname, nickname]
        method.nickname = nickname
    if method.kind in (MethodKind.CREDIT_CARD, MethodKind.DEBIT_CARD) and exp_month and exp_year:
        if (exp_month, exp_year) != (method.exp_month, method.exp_year):
            changes["expiry"] = [f"{method.exp_month}/{method.exp_year}", f"{exp_month}/{exp_year}"]
            method.exp_month, method.exp_year = exp_month, exp_year
    method.save()
    if changes:
        audit_record(action="wallet.method_updated", actor=actor, company=method.company, target=method, data=changes)
    return method


@transaction.atomic
def payment_method_set_default(*, actor, method: PaymentMethod) -> PaymentMethod:
    PaymentMethod.objects.select_for_update().filter(company_id=method.company_id).filter(is_default=True).exclude(
        pk=method.pk
    ).update(is_default=False)
    PaymentMethod.objects.filter(pk=method.pk).update(is_default=True)
    method.is_default = True
    audit_record(action="wallet.method_default", actor=actor, company=method.company, target=method)
    return method


def autopay_using(method: PaymentMethod):
    return method.autopay_schedules.exclude(status=AutoPaySchedule.Status.CANCELLED).select_related("account", "plan")


@transaction.atomic
def payment_method_delete(*, actor, method: PaymentMethod) -> list[AutoPaySchedule]:
    """Delete a wallet entry; an AutoPay that used it stops (paused) and the Administrators are told."""
    method = PaymentMethod.objects.select_for_update().get(pk=method.pk)
    company = method.company
    stopped = list(autopay_using(method).select_for_update(of=("self",)))
    label = str(method)
    for schedule in stopped:
        schedule.status = AutoPaySchedule.Status.PAUSED
        schedule.save(update_fields=["status"])
        audit_record(
            action="autopay.paused",
            actor=actor,
            company=company,
            target=schedule,
            data={"reason": "payment_method_deleted", "method": label},
        )
    was_default = method.is_default
    audit_record(
        action="wallet.method_deleted",
        actor=actor,
        company=company,
        target=method,
        data={"kind": method.kind, "last4": method.last4, "autopay_stopped": [s.id for s in stopped]},
    )
    method.delete()
    if was_default:
        successor = PaymentMethod.objects.filter(company=company).order_by("-created_at", "-id").first()
        if successor:
            PaymentMethod.objects.filter(pk=successor.pk).update(is_default=True)
    if stopped:
        billables = [str(s.account or s.plan) for s in stopped]
        transaction.on_commit(lambda: _autopay_stopped_email(company.id, label, billables))
    return stopped


def _autopay_stopped_email(company_id: int, label: str, billables: list[str]) -> None:
    admins = list(
        Membership.objects.filter(company_id=company_id, role=Role.ADMINISTRATOR)
        .select_related("user", "company")
        .order_by("user__username")
    )
    recipients = [m.user.email for m in admins if m.user.email]
    if not recipients:
        return
    context = {"company": admins[0].company, "method_label": label, "billables": billables}
    subject = " ".join(render_to_string("payments/email/autopay_stopped_subject.txt", context).split())
    body = render_to_string("payments/email/autopay_stopped_body.txt", context)
    EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, recipients).send(fail_silently=False)


# --- Card linked to a shipping account (R11) ---------------------------------------------------


@transaction.atomic
def payment_option_set(*, actor, account: ShippingAccount, method: PaymentMethod) -> ShippingAccountPaymentOption:
    if method.company_id != account.company_id:
        raise ApplicationError(_("Choose a card of this company's wallet."), field="method")
    if method.kind not in (MethodKind.CREDIT_CARD, MethodKind.DEBIT_CARD):
        raise ApplicationError(_("Shipping charges are paid by card: choose a card."), field="method")
    option, _created = ShippingAccountPaymentOption.objects.select_for_update().get_or_create(account=account)
    previous = option.method_id
    option.method = method
    option.updated_by = actor
    option.save()
    audit_record(
        action="payment_option.updated",
        actor=actor,
        company=account.company,
        target=account,
        data={"from": previous, "to": method.id, "method": str(method)},
    )
    return option


# --- Pay Now lookup (R3, R7, R1) ---------------------------------------------------------------

PAY_NOW_WINDOW = 15 * 60
PAY_NOW_LIMIT_PER_IP = 10
PAY_NOW_LIMIT_PER_ACCOUNT = 5


class PayNowRefusal(ApplicationError):
    """A refusal with the invoice whose billing contact the page shows (temporary number, paid)."""

    def __init__(self, message, *, code: str, invoice: Invoice | None = None):
        super().__init__(message, code=code)
        self.invoice = invoice


def _rate_keys(ip: str | None, account_number: str) -> list[tuple[str, int]]:
    return [
        (f"paynow:ip:{ip or 'unknown'}", getattr(settings, "PAY_NOW_LIMIT_PER_IP", PAY_NOW_LIMIT_PER_IP)),
        (f"paynow:acct:{account_number}", getattr(settings, "PAY_NOW_LIMIT_PER_ACCOUNT", PAY_NOW_LIMIT_PER_ACCOUNT)),
    ]


def _rate_locked(ip: str | None, account_number: str) -> bool:
    return any((cache.get(key) or 0) >= limit for key, limit in _rate_keys(ip, account_number))


def _rate_fail(ip: str | None, account_number: str) -> None:
    for key, limit in _rate_keys(ip, account_number):
        cache.add(key, 0, PAY_NOW_WINDOW)
        try:
            count = cache.incr(key)
        except ValueError:
            cache.set(key, 1, PAY_NOW_WINDOW)
            count = 1
        if count == limit:
            audit_record(
                action="pay_now.locked_out",
                data={"key": key.split(":")[1], "account_number": account_number, "ip": ip, "window_s": PAY_NOW_WINDOW},
                ip_address=ip,
            )


UNKNOWN_COMBINATION = gettext_lazy(
    "We could not find an invoice with these details. Check the account number, invoice number and "
    "amount due exactly as printed on the invoice."
)


def pay_now_lookup(*, account_number: str, invoice_number: str, amount: Decimal, ip_address: str | None) -> Invoice:
    """The invoice matching all three printed values, or a refusal that does not say which was wrong."""
    account_number = account_number.strip().upper()
    invoice_number = invoice_number.strip().upper()
    if _rate_locked(ip_address, account_number):
        raise PayNowRefusal(
            _("Too many attempts. Wait 15 minutes and try again, or call the billing contact on the invoice."),
            code="locked",
        )
    invoice = (
        Invoice.objects.select_related("account", "account__company")
        .filter(number=invoice_number, account__number=account_number)
        .first()
    )
    if invoice is None or quantize(invoice.total, invoice.currency) != amount:
        _rate_fail(ip_address, account_number)
        raise PayNowRefusal(str(UNKNOWN_COMBINATION), code="unknown")
    check = invoice_checks([invoice])[0]
    if check.reason == Reason.TEMPORARY:
        raise PayNowRefusal(
            _(
                "Account %(number)s is a temporary 10-digit number and cannot be paid online. Call the billing contact printed on the invoice."
            )
            % {"number": account_number},
            code="temporary",
            invoice=invoice,
        )
    if check.reason in (Reason.PAID, Reason.NOTHING_DUE):
        raise PayNowRefusal(
            _("Invoice %(number)s is already paid: nothing is due.") % {"number": invoice.number},
            code="paid",
            invoice=invoice,
        )
    if check.reason == Reason.IN_PROGRESS:
        raise PayNowRefusal(
            _("A payment for invoice %(number)s is already in progress.") % {"number": invoice.number},
            code="in_progress",
            invoice=invoice,
        )
    if check.reason:
        raise PayNowRefusal(
            _("This invoice cannot be paid online. Call the billing contact printed on the invoice."),
            code=check.reason,
            invoice=invoice,
        )
    return invoice


# --- Webhooks: payments/webhooks.py (verify, store once, check against the payment, settle) ----
