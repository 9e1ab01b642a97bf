"""Writes for payments: wallet, one-time and Pay Now payments, settlement, reconciliation, webhooks.

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
   amounts with ``F()``; it never takes an invoice above its balance and does nothing when the
   payment is already settled (webhooks and reconciliation may both arrive).
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

from accounts.models import Company, Membership, Role, ShippingAccount
from accounts.services import audit_record
from billing_centre.exceptions import ApplicationError
from billing_centre.money import format_money, quantize
from invoices.models import Invoice, InvoiceStatus

from .gateways import ChargeResult, Outcome, SavedMethod, get_gateway
from .models import (
    PAYMENT_TRANSITIONS,
    AutoPaySchedule,
    CreditApplication,
    GatewayCustomer,
    MethodKind,
    Payment,
    PaymentAllocation,
    PaymentMethod,
    PaymentStatus,
    ShippingAccountPaymentOption,
    WebhookEvent,
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


def payment_transition(*, payment: Payment, to: str, actor=None, data: dict | None = None) -> Payment:
    """The one place a payment changes status; the caller holds the row lock."""
    allowed = PAYMENT_TRANSITIONS.get(payment.status, frozenset())
    if to not in allowed:
        raise ApplicationError(
            _("A %(from)s payment cannot become %(to)s.") % {"from": payment.status, "to": to},
            code="invalid_transition",
        )
    previous = payment.status
    payment.status = to
    if to in (PaymentStatus.SUCCEEDED, PaymentStatus.FAILED):
        payment.settled_at = timezone.now()
    payment.save()
    audit_record(
        action=f"payment.{to}",
        actor=actor,
        company=payment.company or _payment_billed_company(payment),
        target=payment,
        data={
            "from": previous,
            "amount": str(payment.amount),
            "currency": payment.currency,
            **(data or {}),
        },
    )
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


def _replay(idempotency_key: str) -> PaymentOutcome | None:
    payments = list(payments_for_attempt(idempotency_key))
    credits = list(credits_for_attempt(idempotency_key))
    if payments or credits:
        return PaymentOutcome(payments=payments, credits=credits, replayed=True)
    return None


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
    *, payable: list[InvoiceCheck], pool: list[Invoice], idempotency_key: str, actor
) -> list[CreditApplication]:
    """Use credit balances of the same account or plan and currency first; the invoices are locked.

    Lowers each ``check.amount`` by the credit used and moves the money between the invoices'
    ``amount_paid`` with ``F()``; returns unsaved ``CreditApplication`` rows.
    """
    available: dict[int, Decimal] = {
        inv.id: min(-inv.balance, inv.amount_paid) for inv in pool if inv.balance < 0 and inv.amount_paid > 0
    }
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

    gateway_name = source.gateway or settings.PAYMENT_GATEWAY
    today = timezone.localdate()
    try:
        with transaction.atomic():
            requested = set(invoice_ids)
            # The invoices to pay and the credit invoices of the same accounts/plans, locked in one
            # statement in id order, so two attempts always lock in the same order.
            lock_ids = sorted(requested | set(_credit_candidate_ids(sorted(requested))))
            locked = list(
                Invoice.objects.select_for_update(of=("self",))
                .select_related("account", "plan")
                .filter(id__in=lock_ids)
                .order_by("id")
            )
            invoices = [inv for inv in locked if inv.id in requested]
            credit_pool = [inv for inv in locked if inv.balance < 0]
            # Another request with this key may have finished while we waited for the locks.
            replay = _replay(idempotency_key)
            if replay is not None:
                return replay
            checks = invoice_checks(invoices, method_kind=source.kind)
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
                    raise ApplicationError(
                        _("A scheduled payment needs a payment method saved in the wallet."), field="method"
                    )
            owner_id = companies.pop()
            owner = company or (Company.objects.get(pk=owner_id) if owner_id else None)
            credits = _apply_credits(payable=payable, pool=credit_pool, idempotency_key=idempotency_key, actor=actor)
            payments = []
            by_currency: dict[str, list[InvoiceCheck]] = {}
            for check in payable:
                if check.amount > 0:
                    by_currency.setdefault(check.invoice.currency, []).append(check)
            for currency, group in sorted(by_currency.items()):
                amount = quantize(sum((c.amount for c in group), Decimal(0)), currency)
                payment = Payment.objects.create(
                    reference=_reference_new(),
                    idempotency_key=f"{idempotency_key}:{currency}",
                    # A logged-in payer or a company's AutoPay (company given); Pay Now has none.
                    company=owner if (getattr(actor, "is_authenticated", False) or company is not None) else None,
                    currency=currency,
                    amount=amount,
                    status=PaymentStatus.SCHEDULED if scheduled_for else PaymentStatus.PENDING,
                    method=source.method,
                    method_kind=source.kind,
                    method_label=source.label[:80],
                    gateway=gateway_name,
                    scheduled_for=scheduled_for,
                    created_by=actor if getattr(actor, "is_authenticated", False) else None,
                    payer_email=payer_email,
                )
                PaymentAllocation.objects.bulk_create(
                    PaymentAllocation(payment=payment, invoice=c.invoice, amount=c.amount) for c in group
                )
                audit_record(
                    action="payment.scheduled" if scheduled_for else "payment.created",
                    actor=actor,
                    company=owner,
                    target=payment,
                    data={
                        "amount": str(amount),
                        "currency": currency,
                        "invoices": [c.invoice.number for c in group],
                        "method": payment.method_label,
                        "scheduled_for": scheduled_for.isoformat() if scheduled_for else None,
                        "pay_now": company is None and not getattr(actor, "is_authenticated", False),
                    },
                    ip_address=ip_address,
                )
                if not scheduled_for:
                    payment_transition(payment=payment, to=PaymentStatus.PROCESSING, actor=actor)
                payments.append(payment)
            by_currency_payment = {p.currency: p for p in payments}
            for application in credits:
                application.payment = by_currency_payment.get(application.currency)
            CreditApplication.objects.bulk_create(credits)
            for application in credits:
                audit_record(
                    action="credit.applied",
                    actor=actor,
                    company=owner,
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
    except IntegrityError:
        # The same key committed by a concurrent request: its payments are the answer.
        replay = _replay(idempotency_key)
        if replay is not None:
            return replay
        raise

    # Committed as processing: now, and only now, the gateway is asked to charge.
    settled = []
    for payment in payments:
        if payment.status != PaymentStatus.PROCESSING:
            settled.append(payment)
            continue
        result = _charge(payment, source)
        settled.append(payment_settle(payment_id=payment.id, result=result, actor=actor))
    return PaymentOutcome(payments=settled, credits=credits)


def _charge(payment: Payment, source: PaymentSource) -> ChargeResult:
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


def payment_settle(*, payment_id: int, result: ChargeResult, actor=None, source: str = "charge") -> Payment:
    """Apply the gateway's answer to a processing payment; idempotent."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status != PaymentStatus.PROCESSING:
            return payment  # already settled (a webhook and reconciliation may both arrive)
        if result.reference and not payment.gateway_reference:
            payment.gateway_reference = result.reference
        if result.outcome == Outcome.SUCCEEDED:
            allocations = list(payment.allocations.order_by("invoice_id"))
            locked = {
                inv.id: inv
                for inv in Invoice.objects.select_for_update()
                .filter(id__in=[a.invoice_id for a in allocations])
                .order_by("id")
            }
            unapplied = Decimal(0)
            for allocation in allocations:
                balance = locked[allocation.invoice_id].balance
                applied = min(allocation.amount, max(balance, Decimal(0)))
                unapplied += allocation.amount - applied
                if applied > 0:
                    Invoice.objects.filter(pk=allocation.invoice_id).update(amount_paid=F("amount_paid") + applied)
            payment_transition(
                payment=payment,
                to=PaymentStatus.SUCCEEDED,
                actor=actor,
                data={"source": source, "gateway_reference": payment.gateway_reference, "unapplied": str(unapplied)},
            )
            transaction.on_commit(lambda: _receipt_email_schedule(payment.id))
        elif result.outcome == Outcome.DECLINED:
            payment.failure_code = result.decline_code[:60]
            payment.failure_message = decline_message(result.decline_code)[:300]
            payment_transition(
                payment=payment,
                to=PaymentStatus.FAILED,
                actor=actor,
                data={"source": source, "code": result.decline_code, "kind": str(result.decline_kind or "")},
            )
        elif result.outcome == Outcome.NOT_FOUND and timezone.now() - payment.created_at >= NOT_SENT_AFTER:
            payment.failure_code = "not_sent"
            payment.failure_message = decline_message("not_sent")[:300]
            payment_transition(payment=payment, to=PaymentStatus.FAILED, actor=actor, data={"source": source})
        else:
            payment.save(update_fields=["gateway_reference"])  # unknown: stays processing until reconciled
        return payment


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
    result = _charge(payment, PaymentSource.from_method(payment.method))
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


def _receipt_email_schedule(payment_id: int) -> None:
    from .tasks import payment_receipt_send_task

    payment_receipt_send_task.delay(payment_id)


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


# --- Webhooks ----------------------------------------------------------------------------------


class WebhookRejected(Exception):
    """The body or its signature could not be verified: answer 400, store nothing."""


def webhook_receive(*, payload: bytes, signature: str) -> tuple[WebhookEvent, bool]:
    """Verify a Stripe delivery, store it once by event id and process it; (event, processed_now)."""
    import stripe

    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise WebhookRejected("no webhook secret configured")
    try:
        event = stripe.Webhook.construct_event(payload, signature, secret, tolerance=300)
    except (ValueError, stripe.SignatureVerificationError) as exc:
        raise WebhookRejected(str(exc)) from None
    import json

    body = json.loads(payload)
    try:
        with transaction.atomic():
            stored = WebhookEvent.objects.create(event_id=event.id, type=event.type, payload=body)
    except IntegrityError:
        return WebhookEvent.objects.get(event_id=event.id), False
    webhook_process(event=stored)
    return stored, True


HANDLED_EVENTS = ("payment_intent.succeeded", "payment_intent.payment_failed")


def webhook_process(*, event: WebhookEvent, actor=None) -> WebhookEvent:
    """Settle the payment an event is about; errors are kept on the event for staff to replay."""
    error = ""
    try:
        if event.type in HANDLED_EVENTS:
            intent = event.payload["data"]["object"]
            reference = (intent.get("metadata") or {}).get("payment_reference", "")
            payment = (
                Payment.objects.filter(reference=reference).first()
                if reference
                else Payment.objects.filter(gateway_reference=intent["id"]).first()
            )
            if payment is None:
                raise LookupError(f"no payment for PaymentIntent {intent.get('id')}")
            if event.type == "payment_intent.succeeded":
                result = ChargeResult.succeeded(intent["id"])
            else:
                last_error = intent.get("last_payment_error") or {}
                code = last_error.get("decline_code") or last_error.get("code") or "card_declined"
                from .gateways.stripe_backend import _decline_kind

                result = ChargeResult.declined(code, _decline_kind(code), intent["id"])
            payment_settle(payment_id=payment.id, result=result, actor=actor, source=f"webhook:{event.event_id}")
    except Exception as exc:  # noqa: BLE001 - recorded for staff, never a 500 to the gateway
        logger.warning("Webhook %s failed: %s", event.event_id, exc)
        error = f"{type(exc).__name__}: {exc}"
    event.error = error
    event.processed_at = None if error else timezone.now()
    event.save(update_fields=["error", "processed_at"])
    return event


@transaction.atomic
def webhook_replay(*, event: WebhookEvent, actor) -> WebhookEvent:
    """Staff: process a stored event again (settlement is idempotent, so this is always safe)."""
    event = WebhookEvent.objects.select_for_update().get(pk=event.pk)
    webhook_process(event=event, actor=actor)
    audit_record(
        action="webhook.replayed",
        actor=actor,
        target=event,
        data={"event_id": event.event_id, "type": event.type, "error": event.error},
    )
    return event


def money_label(amount: Decimal, currency: str) -> str:
    return format_money(amount, currency)
