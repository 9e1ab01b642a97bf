"""What can be paid, and why not: payment types by country (R8), the reasons an invoice is refused
(R1, R20), what payments in flight already take from each invoice, and the words of a decline.

Reads only; every pay path (one-time payment, Pay Now, AutoPay) asks these before it writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import Sum
from django.utils.translation import gettext_lazy

from accounts.models import ShippingAccount
from invoices.models import Invoice, InvoiceStatus

from ..models import PaymentAllocation, PaymentStatus

# Payments whose amounts are taken from an invoice's balance until they settle.
IN_FLIGHT = (PaymentStatus.PENDING, PaymentStatus.PROCESSING, PaymentStatus.SCHEDULED)

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
