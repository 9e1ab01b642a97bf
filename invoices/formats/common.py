"""What every format shows the same way: the summary by kind of line, names, file names."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from ..models import Invoice, LineKind

CARRIER_NAME = "Billing Centre"


@dataclass(frozen=True)
class InvoiceSummary:
    charges: Decimal  # shipment charges
    surcharges: Decimal
    taxes: Decimal
    late_fee: Decimal
    print_fee: Decimal
    adjustments: Decimal  # adjustments and credits (negative in the customer's favour)
    total: Decimal


def invoice_summary(invoice: Invoice) -> InvoiceSummary:
    """Sums of the (prefetched) lines by kind; ``total`` is the invoice's stored total."""
    sums = {kind: Decimal(0) for kind in LineKind.values}
    for line in invoice.lines.all():
        sums[line.kind] = sums.get(line.kind, Decimal(0)) + line.amount
    return InvoiceSummary(
        charges=sums[LineKind.SHIPMENT],
        surcharges=sums[LineKind.SURCHARGE],
        taxes=sums[LineKind.TAX],
        late_fee=sums[LineKind.LATE_FEE],
        print_fee=sums[LineKind.PRINT_FEE],
        adjustments=sums[LineKind.ADJUSTMENT],
        total=invoice.total,
    )


def display_status(invoice: Invoice, today: datetime.date | None = None) -> str:
    return invoice.display_status_on(today or timezone.localdate())


def billed_kind(invoice: Invoice) -> str:
    return "account" if invoice.account_id else "plan"


def safe_number(invoice: Invoice) -> str:
    """The invoice number reduced to letters, digits, ``-`` and ``_``: safe in file names."""
    return "".join(ch for ch in invoice.number if ch.isascii() and (ch.isalnum() or ch in "-_")) or "invoice"


def export_filename(invoice: Invoice, extension: str) -> str:
    """``INV000000123.pdf``."""
    return f"{safe_number(invoice)}.{extension}"


@dataclass(frozen=True)
class LineGroup:
    """The lines billing one shipment, or (``shipment`` None) the invoice's other charges."""

    shipment: object | None
    lines: list

    @property
    def subtotal(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))


def line_groups(invoice: Invoice) -> list[LineGroup]:
    """Prefetched lines grouped by shipment in ship order; charges without a shipment last."""
    groups: dict[int | None, LineGroup] = {}
    lines = sorted(
        invoice.lines.all(),
        key=lambda line: (
            line.shipment is None,
            line.shipment.ship_date if line.shipment else datetime.date.min,
            line.shipment.tracking_number if line.shipment else "",
            line.position,
            line.id or 0,
        ),
    )
    for line in lines:
        group = groups.get(line.shipment_id)
        if group is None:
            group = groups[line.shipment_id] = LineGroup(shipment=line.shipment, lines=[])
        group.lines.append(line)
    return list(groups.values())
