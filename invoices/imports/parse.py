"""Reading an import file (the portal's own XML or CSV) and checking it against the database.

Nothing is written here: ``invoices_parse`` returns every invoice of the file checked, or raises
``ImportRefused`` with every error and its line number. ``invoices.imports.write`` writes them.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections import OrderedDict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.utils import translation
from lxml import etree

from accounts.models import BillingPlan, ShippingAccount
from core.exceptions import ApplicationError
from core.money import quantize

from ..formats.csv import FORMULA_PREFIXES, csv_header
from ..formats.xml import NAMESPACE, invoice_schema
from ..models import Invoice, LineKind, Shipment

_NS = f"{{{NAMESPACE}}}"
# Lines the portal adds itself: an existing invoice is compared without them.
PORTAL_KINDS = (LineKind.PRINT_FEE, LineKind.LATE_FEE)
MAX_BYTES = 20 * 1024 * 1024


class ImportRefused(ApplicationError):
    """The file was refused whole; ``errors`` lists each problem with its line number."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors[:5]), code="import_refused")
        self.errors = errors


@dataclass
class ParsedShipment:
    tracking_number: str
    ship_date: datetime.date
    service: str
    weight_kg: Decimal
    origin: str
    destination: str
    reference: str
    account_number: str


@dataclass
class ParsedLine:
    line_no: int
    position: int
    kind: str
    description: str
    amount: Decimal
    shipment: ParsedShipment | None = None


@dataclass
class ParsedInvoice:
    line_no: int
    number: str
    control_id: str
    billed_type: str
    billed_number: str
    invoice_date: datetime.date
    due_date: datetime.date
    currency: str
    declared_total: Decimal | None
    lines: list[ParsedLine] = field(default_factory=list)
    # Filled by validation:
    billable: ShippingAccount | BillingPlan | None = None
    existing: Invoice | None = None

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))


@dataclass
class ImportResult:
    created: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    print_fees: int = 0
    notified: int = 0


class _Errors(list):
    def add(self, line_no: int | None, message: str) -> None:
        self.append(f"line {line_no}: {message}" if line_no else message)


def _decimal(text: str, errors: _Errors, line_no: int, what: str) -> Decimal | None:
    try:
        value = Decimal((text or "").strip())
    except InvalidOperation:
        errors.add(line_no, f"{what} is not a number: {text!r}")
        return None
    if not value.is_finite():
        errors.add(line_no, f"{what} is not a number: {text!r}")
        return None
    return value


def _date(text: str, errors: _Errors, line_no: int, what: str) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat((text or "").strip())
    except ValueError:
        errors.add(line_no, f"{what} is not a date (YYYY-MM-DD): {text!r}")
        return None


def _unneutralise(text: str) -> str:
    """Undo the CSV export's formula guard: ``'=x`` was written for the text ``=x``."""
    if text.startswith("'") and text[1:].startswith(FORMULA_PREFIXES):
        return text[1:]
    return text


# --- XML ---------------------------------------------------------------------------------------


def _parse_xml(data: bytes, errors: _Errors) -> list[ParsedInvoice]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        errors.add(getattr(exc, "lineno", None) or exc.position[0], f"not well-formed XML: {exc.msg}")
        return []
    schema = invoice_schema()
    if not schema.validate(root):
        for entry in schema.error_log:
            errors.add(entry.line, entry.message)
        return []

    def text(parent, name: str) -> str:
        element = parent.find(_NS + name)
        return (element.text or "").strip() if element is not None else ""

    billed = root.find(_NS + "Billed")
    summary = root.find(_NS + "Summary")
    invoice = ParsedInvoice(
        line_no=root.sourceline,
        number=text(root, "Number").upper(),
        control_id=text(root, "ControlId"),
        billed_type=billed.get("type"),
        billed_number=text(billed, "Number").upper(),
        invoice_date=datetime.date.fromisoformat(text(root, "InvoiceDate")),
        due_date=datetime.date.fromisoformat(text(root, "DueDate")),
        currency=text(root, "Currency"),
        declared_total=Decimal(text(summary, "Total")),
    )
    for element in root.find(_NS + "Lines").findall(_NS + "Line"):
        shipment = None
        ship = element.find(_NS + "Shipment")
        if ship is not None:
            shipment = ParsedShipment(
                tracking_number=text(ship, "TrackingNumber"),
                ship_date=datetime.date.fromisoformat(text(ship, "ShipDate")),
                service=text(ship, "Service"),
                weight_kg=Decimal(text(ship, "WeightKg")),
                origin=text(ship, "Origin"),
                destination=text(ship, "Destination"),
                reference=text(ship, "Reference"),
                account_number=text(ship, "AccountNumber").upper(),
            )
        invoice.lines.append(
            ParsedLine(
                line_no=element.sourceline,
                position=int(element.get("position")),
                kind=element.get("kind"),
                description=text(element, "Description"),
                amount=Decimal(text(element, "Amount")),
                shipment=shipment,
            )
        )
    return [invoice]


# --- CSV ---------------------------------------------------------------------------------------


def _csv_headers() -> list[list[str]]:
    headers = []
    for language in ("en", "ko"):
        with translation.override(language):
            headers.append([str(h) for h in csv_header()])
    return headers


def _parse_csv(data: bytes, errors: _Errors) -> list[ParsedInvoice]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        errors.add(None, f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})")
        return []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        errors.add(1, "the file is empty")
        return []
    except csv.Error as exc:
        errors.add(1, f"not a CSV file: {exc}")
        return []
    width = len(csv_header())
    if [h.strip() for h in header] not in _csv_headers():
        errors.add(1, "the header row is not the Billing Centre invoice CSV header (English or Korean)")
        return []
    invoices: OrderedDict[str, ParsedInvoice] = OrderedDict()
    line_no = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.add(reader.line_num, f"not valid CSV: {exc}")
            break
        line_no = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != width:
            errors.add(line_no, f"expected {width} columns, found {len(row)}")
            continue
        cells = [_unneutralise(cell.strip()) for cell in row]
        (
            number,
            control_id,
            billed_type,
            billed_number,
            _name,
            invoice_date,
            due_date,
            currency,
            total,
            _paid,
            _balance,
            _status,
            position,
            kind,
            description,
            tracking,
            ship_date,
            service,
            weight,
            origin,
            destination,
            reference,
            shipping_account,
            amount,
        ) = cells
        number = number.upper()
        if not number:
            errors.add(line_no, "the invoice number is empty")
            continue
        before = len(errors)
        header_values = (
            control_id,
            billed_type,
            billed_number.upper(),
            _date(invoice_date, errors, line_no, "Invoice date"),
            _date(due_date, errors, line_no, "Due date"),
            currency,
            _decimal(total, errors, line_no, "Invoice total"),
        )
        invoice = invoices.get(number)
        if invoice is None:
            invoice = invoices[number] = ParsedInvoice(
                line_no=line_no,
                number=number,
                control_id=control_id,
                billed_type=billed_type,
                billed_number=billed_number.upper(),
                invoice_date=header_values[3],
                due_date=header_values[4],
                currency=currency,
                declared_total=header_values[6],
            )
        elif len(errors) == before and header_values != (
            invoice.control_id,
            invoice.billed_type,
            invoice.billed_number,
            invoice.invoice_date,
            invoice.due_date,
            invoice.currency,
            invoice.declared_total,
        ):
            errors.add(
                line_no, f"invoice {number}: the invoice fields differ from its first row (line {invoice.line_no})"
            )
        try:
            position_value = int(position)
        except ValueError:
            errors.add(line_no, f"Line is not a whole number: {position!r}")
            position_value = 0
        line_amount = _decimal(amount, errors, line_no, "Amount")
        shipment = None
        if tracking:
            weight_value = _decimal(weight, errors, line_no, "Weight (kg)")
            date_value = _date(ship_date, errors, line_no, "Ship date")
            shipment = ParsedShipment(
                tracking_number=tracking.upper(),
                ship_date=date_value,
                service=service,
                weight_kg=weight_value,
                origin=origin,
                destination=destination,
                reference=reference,
                account_number=shipping_account.upper(),
            )
        if line_amount is not None:
            invoice.lines.append(
                ParsedLine(
                    line_no=line_no,
                    position=position_value,
                    kind=kind,
                    description=description,
                    amount=line_amount,
                    shipment=shipment,
                )
            )
    if not invoices and not errors:
        errors.add(line_no, "the file has no invoice rows")
    return list(invoices.values())


# --- Checks against the database ---------------------------------------------------------------


def _check(invoices: list[ParsedInvoice], errors: _Errors) -> None:
    import re

    from core.money import CURRENCY_CHOICES

    currencies = {code for code, _label in CURRENCY_CHOICES}
    services = set(Shipment.Service.values)
    kinds = set(LineKind.values)
    accounts = {
        a.number: a
        for a in ShippingAccount.objects.filter(
            number__in={i.billed_number for i in invoices if i.billed_type == "account"}
            | {line.shipment.account_number for i in invoices for line in i.lines if line.shipment}
        )
    }
    plans = {
        p.number: p
        for p in BillingPlan.objects.filter(number__in={i.billed_number for i in invoices if i.billed_type == "plan"})
    }
    existing = {
        inv.number: inv
        for inv in Invoice.objects.filter(number__in=[i.number for i in invoices]).prefetch_related("lines")
    }
    trackings = {
        s.tracking_number: s
        for s in Shipment.objects.filter(
            tracking_number__in={line.shipment.tracking_number for i in invoices for line in i.lines if line.shipment}
        )
    }
    seen_tracking: dict[str, str] = {}
    for invoice in invoices:
        at = invoice.line_no
        if not invoice.control_id or len(invoice.control_id) > 12:
            errors.add(at, f"invoice {invoice.number}: the control ID must have 1 to 12 characters")
        if len(invoice.number) > 20:
            errors.add(at, f"invoice {invoice.number}: the invoice number is longer than 20 characters")
        if invoice.billed_type not in ("account", "plan"):
            errors.add(
                at, f"invoice {invoice.number}: billed to must be 'account' or 'plan', not {invoice.billed_type!r}"
            )
            continue
        billable = (accounts if invoice.billed_type == "account" else plans).get(invoice.billed_number)
        if billable is None:
            errors.add(at, f"invoice {invoice.number}: unknown {invoice.billed_type} number {invoice.billed_number}")
            continue
        invoice.billable = billable
        if invoice.currency not in currencies:
            errors.add(at, f"invoice {invoice.number}: unknown currency {invoice.currency!r}")
            continue
        if invoice.currency != billable.currency:
            errors.add(
                at,
                f"invoice {invoice.number}: currency {invoice.currency} differs from {billable.number}'s {billable.currency}",
            )
        if invoice.invoice_date and invoice.due_date and invoice.due_date < invoice.invoice_date:
            errors.add(at, f"invoice {invoice.number}: the due date is before the invoice date")
        if not invoice.lines:
            errors.add(at, f"invoice {invoice.number}: no lines")
        for line in invoice.lines:
            if line.kind not in kinds:
                errors.add(line.line_no, f"invoice {invoice.number}: unknown charge type {line.kind!r}")
            if line.amount != quantize(line.amount, invoice.currency):
                errors.add(
                    line.line_no,
                    f"invoice {invoice.number}: amount {line.amount} has more decimals than {invoice.currency} allows",
                )
            if not line.description or len(line.description) > 200:
                errors.add(line.line_no, f"invoice {invoice.number}: the description must have 1 to 200 characters")
            shipment = line.shipment
            if shipment is None:
                continue
            if not re.fullmatch(r"1Z[0-9A-Z]{16}", shipment.tracking_number):
                errors.add(
                    line.line_no, f"tracking number {shipment.tracking_number!r} is not 1Z + 16 letters or digits"
                )
            if shipment.service not in services:
                errors.add(line.line_no, f"unknown service {shipment.service!r}")
            if shipment.ship_date is None or shipment.weight_kg is None or shipment.weight_kg <= 0:
                errors.add(line.line_no, "a shipment needs a ship date and a weight above zero")
            shipper = accounts.get(shipment.account_number)
            if shipper is None:
                errors.add(line.line_no, f"unknown shipping account {shipment.account_number}")
            elif invoice.billed_type == "account" and shipper.id != billable.id:
                errors.add(
                    line.line_no, f"shipment account {shipper.number} is not the billed account {billable.number}"
                )
            elif invoice.billed_type == "plan" and shipper.plan_id != billable.id:
                errors.add(line.line_no, f"shipment account {shipper.number} is not in plan {billable.number}")
            known = trackings.get(shipment.tracking_number)
            if known is not None and shipper is not None and known.account_id != shipper.id:
                errors.add(line.line_no, f"tracking number {shipment.tracking_number} belongs to another account")
            previous = seen_tracking.get(shipment.tracking_number)
            if previous is not None and previous != shipment.account_number:
                errors.add(line.line_no, f"tracking number {shipment.tracking_number} appears with two accounts")
            seen_tracking[shipment.tracking_number] = shipment.account_number
        if invoice.declared_total is not None and invoice.lines and invoice.declared_total != invoice.total:
            errors.add(
                at,
                f"invoice {invoice.number}: the total {invoice.declared_total} is not the sum of its lines ({invoice.total})",
            )
        found = existing.get(invoice.number)
        if found is not None:
            same = (
                found.account_id == (billable.id if invoice.billed_type == "account" else None)
                and found.plan_id == (billable.id if invoice.billed_type == "plan" else None)
                and found.invoice_date == invoice.invoice_date
                and found.due_date == invoice.due_date
                and found.currency == invoice.currency
                and found.control_id == invoice.control_id
                and sum((x.amount for x in found.lines.all() if x.kind not in PORTAL_KINDS), Decimal(0))
                == sum((x.amount for x in invoice.lines if x.kind not in PORTAL_KINDS), Decimal(0))
            )
            if not same:
                errors.add(at, f"invoice {invoice.number} already exists with other values")
            invoice.existing = found
    numbers = [i.number for i in invoices]
    for number in {n for n in numbers if numbers.count(n) > 1}:
        errors.add(None, f"invoice {number} appears more than once")


# --- Reading the whole file ---------------------------------------------------------------------


def invoices_parse(*, data: bytes, name: str = "") -> list[ParsedInvoice]:
    """Read and check the whole file; raise ``ImportRefused`` with every error found."""
    errors = _Errors()
    if len(data) > MAX_BYTES:
        raise ImportRefused([f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB"])
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if name.lower().endswith(".xml") or head == b"<":
        invoices = _parse_xml(data, errors)
    else:
        invoices = _parse_csv(data, errors)
    if not errors:
        _check(invoices, errors)
    if errors:
        raise ImportRefused(list(errors))
    return invoices
