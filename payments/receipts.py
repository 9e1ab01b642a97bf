"""Payment receipts: the context every receipt shows, and the PDF (WeasyPrint, NanumGothic for Hangul)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation

from .models import Payment

logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

CARRIER_NAME = "Billing Centre"


def receipt_context(payment: Payment) -> dict:
    allocations = list(
        payment.allocations.select_related("invoice", "invoice__account", "invoice__plan").order_by("invoice__number")
    )
    return {
        "payment": payment,
        "allocations": allocations,
        "carrier_name": CARRIER_NAME,
        "support_phone": settings.BILLING_SUPPORT_PHONE,
        "generated_at": timezone.localtime(),
    }


def render_receipt_pdf(payment: Payment, *, language: str) -> bytes:
    from weasyprint import CSS, HTML

    with translation.override(language):
        context = receipt_context(payment) | {"language": language}
        html = render_to_string("payments/pdf/receipt.html", context)
        css = render_to_string("payments/pdf/receipt.css", context)
    return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf(stylesheets=[CSS(string=css)])
