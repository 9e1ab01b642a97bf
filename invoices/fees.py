"""Print fees (R13-R16) and late fees (R23): one line each, at most once per invoice.

Both are posted by one service each that locks the invoice row, checks the rule, adds the line
and moves the invoice total in the same transaction, and writes an audit event. The database
holds "at most once" too (``invoiceline_one_print_fee``, ``invoiceline_one_late_fee``), so two
runs at once add one line.

The rules come from settings, per country of the account or plan:

- ``PRINT_FEES[country] = {"amount", "currency", "effective"}``: an invoice dated on or after
  ``effective`` for an account or plan still on paper invoices that day carries the fee. Paperless
  accounts (enrolled on or before the invoice date, R14/R15) pay none.
- ``LATE_FEES[country] = {"rate", "minimum", "currency", "days_after_due"}``: an invoice still open
  ``days_after_due`` days after its due date gets ``rate`` × the balance past due (at least
  ``minimum``). An invoice under an open dispute gets none while the dispute is looked at.
"""

from __future__ import annotations

import datetime
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q
from django.utils import timezone
from django.utils.translation import gettext_noop

from accounts.audit import audit_record
from accounts.models import InvoiceDelivery
from core.money import quantize

from .figures_cache import invoice_figures_changed
from .locks import invoice_lock
from .models import Invoice, InvoiceLine, InvoiceStatus, LineKind

# Line descriptions are stored as printed on the invoice, in the billed country's language
# (the PDF, CSV and XML show them as stored; the seed data does the same).
PRINT_FEE_TEXT = gettext_noop("Invoice print fee")
LATE_FEE_TEXT = gettext_noop("Late fee")
DESCRIPTIONS = {
    "KR": {LineKind.PRINT_FEE: "청구서 인쇄 수수료", LineKind.LATE_FEE: "연체 요금"},
}
DEFAULT_DESCRIPTIONS = {LineKind.PRINT_FEE: PRINT_FEE_TEXT, LineKind.LATE_FEE: LATE_FEE_TEXT}

# The daily job looks this far back for paper invoices issued without their print fee.
PRINT_FEE_LOOKBACK_DAYS = 45


def line_description(kind: str, country: str) -> str:
    return DESCRIPTIONS.get(country, {}).get(kind) or str(DEFAULT_DESCRIPTIONS[kind])


@dataclass(frozen=True)
class PrintFeeRule:
    amount: Decimal
    currency: str
    effective: datetime.date


@dataclass(frozen=True)
class LateFeeRule:
    rate: Decimal
    minimum: Decimal
    currency: str
    days_after_due: int


def print_fee_rule(country: str) -> PrintFeeRule | None:
    raw = getattr(settings, "PRINT_FEES", {}).get(country)
    if not raw:
        return None
    return PrintFeeRule(
        amount=Decimal(str(raw["amount"])),
        currency=raw["currency"],
        effective=datetime.date.fromisoformat(str(raw["effective"])),
    )


def late_fee_rule(country: str) -> LateFeeRule | None:
    raw = getattr(settings, "LATE_FEES", {}).get(country)
    if not raw:
        return None
    return LateFeeRule(
        rate=Decimal(str(raw["rate"])),
        minimum=Decimal(str(raw.get("minimum", "0"))),
        currency=raw.get("currency", ""),
        days_after_due=int(raw.get("days_after_due", 0)),
    )


def paperless_on(billable, day: datetime.date) -> bool:
    """Was the account or plan enrolled in paperless invoices on ``day``? (R14, R15)"""
    if billable.invoice_delivery != InvoiceDelivery.PAPERLESS:
        return False
    return billable.paperless_since is None or billable.paperless_since <= day


def print_fee_applies(invoice: Invoice) -> PrintFeeRule | None:
    """The rule when the invoice must carry a print fee, else None."""
    billable = invoice.billable
    rule = print_fee_rule(billable.country)
    if rule is None or rule.currency != invoice.currency or invoice.invoice_date < rule.effective:
        return None
    if paperless_on(billable, invoice.invoice_date):
        return None
    return rule


def _post_line(locked: Invoice, *, kind: str, amount: Decimal) -> InvoiceLine:
    position = (locked.lines.aggregate(p=Max("position"))["p"] or 0) + 1
    with transaction.atomic():  # a savepoint: the unique constraint may refuse a second line
        line = InvoiceLine.objects.create(
            invoice=locked,
            position=position,
            kind=kind,
            description=line_description(kind, locked.billable.country),
            amount=amount,
        )
        Invoice.objects.filter(pk=locked.pk).update(total=F("total") + amount)
    invoice_figures_changed(company_ids=[locked.billable.company_id])
    return line


@transaction.atomic
def print_fee_assess(*, invoice: Invoice, actor=None) -> InvoiceLine | None:
    """Add the print fee line if the invoice was issued on paper after the effective date; never twice."""
    locked = invoice_lock(invoice)
    rule = print_fee_applies(locked)
    if rule is None or locked.lines.filter(kind=LineKind.PRINT_FEE).exists():
        return None
    amount = quantize(rule.amount, locked.currency)
    try:
        line = _post_line(locked, kind=LineKind.PRINT_FEE, amount=amount)
    except IntegrityError:
        return None  # another run added it at the same moment
    billable = locked.billable
    audit_record(
        action="invoice.print_fee_added",
        actor=actor,
        company=billable.company,
        target=locked,
        data={"amount": str(amount), "currency": locked.currency, "effective": rule.effective.isoformat()},
    )
    return line


def late_fee_amount(invoice: Invoice, rule: LateFeeRule) -> Decimal:
    fee = quantize(invoice.balance * rule.rate, invoice.currency)
    if rule.currency == invoice.currency:
        fee = max(fee, quantize(rule.minimum, invoice.currency))
    return fee


@transaction.atomic
def late_fee_assess(*, invoice: Invoice, today: datetime.date | None = None, actor=None) -> InvoiceLine | None:
    """Post the late fee once, ``days_after_due`` days after the due date, on the balance past due."""
    today = today or timezone.localdate()
    locked = invoice_lock(invoice)
    rule = late_fee_rule(locked.billable.country)
    if rule is None or locked.status != InvoiceStatus.OPEN:
        return None
    if Invoice.objects.filter(pk=locked.pk).held().exists():  # under an open dispute (invoices.registry)
        return None
    if today < locked.due_date + datetime.timedelta(days=rule.days_after_due):
        return None
    if locked.lines.filter(kind=LineKind.LATE_FEE).exists():
        return None
    amount = late_fee_amount(locked, rule)
    if amount <= 0:
        return None
    try:
        line = _post_line(locked, kind=LineKind.LATE_FEE, amount=amount)
    except IntegrityError:
        return None
    billable = locked.billable
    audit_record(
        action="invoice.late_fee_added",
        actor=actor,
        company=billable.company,
        target=locked,
        data={
            "amount": str(amount),
            "currency": locked.currency,
            "balance_past_due": str(locked.balance),
            "rate": str(rule.rate),
            "due_date": locked.due_date.isoformat(),
        },
    )
    return line


def fees_assess(*, today: datetime.date | None = None, recorder=None) -> Counter:
    """The daily job: print fees of recent paper invoices, late fees of invoices past due."""
    today = today or timezone.localdate()
    counts: Counter = Counter()

    def attempt(service, invoice, key, **kwargs):
        if recorder is not None:
            recorder.heartbeat()  # alive: renews the run's lease now and then
        try:
            if service(invoice=invoice, **kwargs) is not None:
                counts[key] += 1
        except Exception as exc:  # noqa: BLE001 - one invoice must not stop the run
            counts["errors"] += 1
            if recorder is not None:
                recorder.error(f"{invoice.number} {key}: {type(exc).__name__}: {exc}")

    earliest_effective = min(
        (print_fee_rule(country).effective for country in getattr(settings, "PRINT_FEES", {})), default=None
    )
    if earliest_effective is not None:
        since = max(earliest_effective, today - datetime.timedelta(days=PRINT_FEE_LOOKBACK_DAYS))
        candidates = (
            Invoice.objects.filter(status=InvoiceStatus.OPEN, invoice_date__gte=since, invoice_date__lte=today)
            .exclude(lines__kind=LineKind.PRINT_FEE)
            .filter(
                Q(account__invoice_delivery=InvoiceDelivery.PAPER)
                | Q(plan__invoice_delivery=InvoiceDelivery.PAPER)
                | Q(account__paperless_since__gt=F("invoice_date"))
                | Q(plan__paperless_since__gt=F("invoice_date"))
            )
            .order_by("id")
        )
        for invoice in candidates:
            attempt(print_fee_assess, invoice, "print_fee")

    shortest = min(
        (late_fee_rule(country).days_after_due for country in getattr(settings, "LATE_FEES", {})), default=None
    )
    if shortest is not None:
        past_due = (
            Invoice.objects.filter(status=InvoiceStatus.OPEN, due_date__lte=today - datetime.timedelta(days=shortest))
            .exclude(lines__kind=LineKind.LATE_FEE)
            .order_by("id")
        )
        for invoice in past_due:
            attempt(late_fee_assess, invoice, "late_fee", today=today)
    if recorder is not None:
        for key, value in counts.items():
            recorder.count(key, value)
    return counts
