"""The PDF invoice (WeasyPrint): A4, header, summary, remittance stub, line detail.

Korean text needs an embedded Korean font: the stylesheet asks for NanumGothic (Debian
``fonts-nanum``); without it Hangul turns into empty boxes that ``pdftotext`` does not notice.
Rendering is pure: ``services.invoice_document_get`` decides when to render and stores the file.
"""

from __future__ import annotations

import hashlib
import json
import logging
from functools import cache

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation

from ..models import Invoice
from .common import CARRIER_NAME, billed_kind, invoice_summary, line_groups

# WeasyPrint logs every layout step at INFO; keep the logs for real problems.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

# Bump when the layout changes so every invoice gets a new rendered version.
TEMPLATE_REVISION = 2


def invoice_content_hash(invoice: Invoice) -> str:
    """A fingerprint of everything the PDF shows; a change to the lines changes it."""
    billable = invoice.billable
    data = {
        "revision": TEMPLATE_REVISION,
        "number": invoice.number,
        "control_id": invoice.control_id,
        "invoice_date": invoice.invoice_date.isoformat(),
        "due_date": invoice.due_date.isoformat(),
        "currency": invoice.currency,
        "total": str(invoice.total),
        "billed": [
            billed_kind(invoice),
            billable.number,
            billable.name,
            billable.address,
            billable.company.name if billable.company_id else "",
            billable.billing_contact_phone,
            billable.billing_contact_email,
        ],
        "lines": [
            [
                line.id,
                line.position,
                line.kind,
                line.description,
                str(line.amount),
                line.shipment.tracking_number if line.shipment else None,
                line.shipment.ship_date.isoformat() if line.shipment else None,
                line.shipment.service if line.shipment else None,
                str(line.shipment.weight_kg) if line.shipment else None,
                line.shipment.origin if line.shipment else None,
                line.shipment.destination if line.shipment else None,
                line.shipment.reference if line.shipment else None,
            ]
            for line in invoice.lines.all()
        ],
    }
    encoded = json.dumps(data, ensure_ascii=False, sort_keys=True).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()


def invoice_document_context(invoice: Invoice) -> dict:
    billable = invoice.billable
    return {
        "invoice": invoice,
        "billable": billable,
        "company": billable.company if billable.company_id else None,
        "billed_kind": billed_kind(invoice),
        "summary": invoice_summary(invoice),
        "groups": line_groups(invoice),
        "carrier_name": CARRIER_NAME,
        "support_phone": settings.BILLING_SUPPORT_PHONE,
        "generated_at": timezone.localtime(),
    }


def render_invoice_pdf(invoice: Invoice, *, language: str, version: int = 1) -> bytes:
    """The invoice as PDF bytes, in ``language``."""
    from weasyprint import HTML

    with translation.override(language):
        context = invoice_document_context(invoice) | {"version": version, "language": language}
        html = render_to_string("invoices/pdf/invoice.html", context)
        stylesheets = _stylesheets(language)
    document = HTML(string=html, base_url=str(settings.BASE_DIR))
    return document.write_pdf(stylesheets=stylesheets, font_config=_font_config())


@cache
def _font_config():
    """One font configuration per process: loading fonts for every PDF is what makes it slow."""
    from weasyprint.text.fonts import FontConfiguration

    return FontConfiguration()


@cache
def _stylesheets(language: str) -> list:
    """The parsed document and page stylesheets (the page one has translated page numbers)."""
    from django.contrib.staticfiles import finders
    from weasyprint import CSS

    path = finders.find("css/invoice-document.css")
    if not path:  # pragma: no cover - the file ships with the app
        raise FileNotFoundError("static/css/invoice-document.css")
    page_css = render_to_string("invoices/pdf/invoice.css", {"language": language})
    return [
        CSS(filename=path, font_config=_font_config()),
        CSS(string=page_css, font_config=_font_config()),
    ]
