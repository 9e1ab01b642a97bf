"""The XML invoice (lxml): namespace ``urn:billing-centre:invoice:1``, schema ``invoices/schema/invoice-v1.xsd``.

docs/xml-format.md documents the format. Amounts are plain decimals in the invoice's
currency (``Currency``), negative for credits.
"""

from __future__ import annotations

import datetime
from functools import cache
from pathlib import Path

from django.utils import timezone
from lxml import etree

from core.money import quantize

from ..models import Invoice
from .common import CARRIER_NAME, billed_kind, display_status, invoice_summary

NAMESPACE = "urn:billing-centre:invoice:1"
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema" / "invoice-v1.xsd"
_NS = f"{{{NAMESPACE}}}"


@cache
def invoice_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA_PATH)))


def _sub(parent, name: str, text=None, **attrs):
    element = etree.SubElement(parent, _NS + name, **{k: str(v) for k, v in attrs.items()})
    if text is not None:
        element.text = str(text)
    return element


def _amount(value, currency: str | None = None) -> str:
    """A plain decimal; money is rounded to the currency's minor units (KRW 13000, USD 12.34)."""
    if currency is not None:
        value = quantize(value, currency)
    return format(value, "f")


def invoice_xml_element(invoice: Invoice, *, today: datetime.date | None = None) -> etree._Element:
    billable = invoice.billable
    root = etree.Element(
        _NS + "Invoice",
        nsmap={None: NAMESPACE},
        version="1",
        generated=timezone.localtime().replace(microsecond=0).isoformat(),
    )
    _sub(root, "Number", invoice.number)
    _sub(root, "ControlId", invoice.control_id)
    _sub(root, "InvoiceDate", invoice.invoice_date.isoformat())
    _sub(root, "DueDate", invoice.due_date.isoformat())
    _sub(root, "Currency", invoice.currency)
    _sub(root, "Status", display_status(invoice, today))

    billed = _sub(root, "Billed", type=billed_kind(invoice))
    _sub(billed, "Number", billable.number)
    _sub(billed, "Name", billable.name)
    if billable.company_id:
        _sub(billed, "Company", billable.company.name)
    if billable.address:
        _sub(billed, "Address", billable.address)
    _sub(billed, "Country", billable.country)
    if invoice.account_id and invoice.account.plan_id:
        _sub(billed, "PlanNumber", invoice.account.plan.number)

    carrier = _sub(root, "Carrier")
    _sub(carrier, "Name", CARRIER_NAME)
    _sub(carrier, "BillingContactPhone", billable.billing_contact_phone)
    if billable.billing_contact_email:
        _sub(carrier, "BillingContactEmail", billable.billing_contact_email)

    summary = invoice_summary(invoice)
    element = _sub(root, "Summary")
    for name, value in (
        ("Charges", summary.charges),
        ("Surcharges", summary.surcharges),
        ("Taxes", summary.taxes),
        ("LateFee", summary.late_fee),
        ("PrintFee", summary.print_fee),
        ("Adjustments", summary.adjustments),
        ("Total", invoice.total),
        ("AmountPaid", invoice.amount_paid),
        ("BalanceDue", invoice.total - invoice.amount_paid),
    ):
        _sub(element, name, _amount(value, invoice.currency))

    lines = _sub(root, "Lines")
    for line in invoice.lines.all():
        item = _sub(lines, "Line", position=line.position, kind=line.kind)
        _sub(item, "Description", line.description)
        _sub(item, "Amount", _amount(line.amount, invoice.currency))
        shipment = line.shipment
        if shipment is not None:
            ship = _sub(item, "Shipment")
            _sub(ship, "TrackingNumber", shipment.tracking_number)
            _sub(ship, "ShipDate", shipment.ship_date.isoformat())
            _sub(ship, "Service", shipment.service)
            _sub(ship, "WeightKg", _amount(shipment.weight_kg))
            _sub(ship, "Origin", shipment.origin)
            _sub(ship, "Destination", shipment.destination)
            if shipment.reference:
                _sub(ship, "Reference", shipment.reference)
            _sub(ship, "AccountNumber", shipment.account.number)
    return root


def invoice_xml_bytes(invoice: Invoice, *, today: datetime.date | None = None) -> bytes:
    """The invoice as a UTF-8 XML document (with declaration), valid against the XSD."""
    return etree.tostring(
        invoice_xml_element(invoice, today=today),
        xml_declaration=True,
        encoding="UTF-8",
        pretty_print=True,
    )
