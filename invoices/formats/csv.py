"""CSV of invoice lines: one row per line, each with its invoice's header fields.

An invoice without lines gets one row with its header fields and empty line columns.

UTF-8 with a byte-order mark, so spreadsheet programs read Korean correctly.

Formula injection: a text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return is prefixed with ``'`` so a spreadsheet shows it as text instead of
running it. Only *text* cells are neutralised: amounts, weights and dates are written by
the portal itself as plain numbers (``-5000``) and must stay numbers a spreadsheet can
add up, so a negative credit keeps its minus sign.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Iterable

from django.utils.translation import gettext as _

from core.money import quantize

from ..models import Invoice
from .common import billed_kind, display_status

BOM = "\ufeff"
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value) -> str:
    """A text cell that a spreadsheet will not evaluate as a formula."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def _number(value, currency: str | None = None) -> str:
    if value is None:
        return ""
    if currency is not None:  # money: rounded to the currency's minor units (KRW 13000, USD 12.34)
        value = quantize(value, currency)
    return format(value, "f")


def csv_header() -> list[str]:
    return [
        _("Invoice number"),
        _("Control ID"),
        _("Billed to"),
        _("Account or plan number"),
        _("Account or plan name"),
        _("Invoice date"),
        _("Due date"),
        _("Currency"),
        _("Invoice total"),
        _("Amount paid"),
        _("Balance due"),
        _("Status"),
        _("Line"),
        _("Charge type"),
        _("Description"),
        _("Tracking number"),
        _("Ship date"),
        _("Service"),
        _("Weight (kg)"),
        _("Origin"),
        _("Destination"),
        _("Reference"),
        _("Shipping account"),
        _("Amount"),
    ]


def invoice_csv_rows(invoice: Invoice, *, today: datetime.date | None = None) -> Iterable[list[str]]:
    billable = invoice.billable
    header = [
        neutralise(invoice.number),
        neutralise(invoice.control_id),
        billed_kind(invoice),
        neutralise(billable.number),
        neutralise(billable.name),
        invoice.invoice_date.isoformat(),
        invoice.due_date.isoformat(),
        invoice.currency,
        _number(invoice.total, invoice.currency),
        _number(invoice.amount_paid, invoice.currency),
        _number(invoice.total - invoice.amount_paid, invoice.currency),
        display_status(invoice, today),
    ]
    lines = list(invoice.lines.all())
    if not lines:  # the invoice still gets a row, so no selected invoice goes missing
        yield header + [""] * (len(csv_header()) - len(header))
        return
    for line in lines:
        shipment = line.shipment
        yield header + [
            str(line.position),
            line.kind,
            neutralise(line.description),
            neutralise(shipment.tracking_number) if shipment else "",
            shipment.ship_date.isoformat() if shipment else "",
            shipment.service if shipment else "",
            _number(shipment.weight_kg) if shipment else "",
            neutralise(shipment.origin) if shipment else "",
            neutralise(shipment.destination) if shipment else "",
            neutralise(shipment.reference) if shipment else "",
            neutralise(shipment.account.number) if shipment else "",
            _number(line.amount, invoice.currency),
        ]


def invoices_csv_bytes(invoices: Iterable[Invoice], *, today: datetime.date | None = None) -> bytes:
    """One CSV of all the given invoices' lines (header row first), UTF-8 with BOM."""
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(csv_header())
    for invoice in invoices:
        writer.writerows(invoice_csv_rows(invoice, today=today))
    return buffer.getvalue().encode("utf-8")


def invoices_csv_stream(invoices: Iterable[Invoice], *, today: datetime.date | None = None, chunk_size: int = 500):
    """The same CSV as ``invoices_csv_bytes``, yielded in pieces of about ``chunk_size`` invoices.

    A queryset is read with ``.iterator(chunk_size=…)`` (its prefetches run per chunk), so an
    export of 200,000 invoices holds one chunk of rows and one piece of text at a time.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow(csv_header())
    rows = invoices.iterator(chunk_size=chunk_size) if hasattr(invoices, "iterator") else invoices
    for index, invoice in enumerate(rows, start=1):
        writer.writerows(invoice_csv_rows(invoice, today=today))
        if index % chunk_size == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    tail = buffer.getvalue()
    if tail:
        yield tail.encode("utf-8")
