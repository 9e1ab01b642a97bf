"""What every payment page shares: no-store caching, secrets kept out of error reports, Stripe.js."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from django.utils import translation
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from ..models import Payment
from ..receipts import render_receipt_pdf

# Error reports (the debug page, e-mails to ADMINS) never show these POST fields.
SECRET_FIELDS = [
    f"{prefix}{name}" for prefix in ("", "new-", "pm-") for name in ("card_number", "cvc", "account_number")
]
hide_secrets = method_decorator(sensitive_post_parameters(*SECRET_FIELDS), name="post")

# Every payment page (invoices to pay, receipts and their PDFs, wallet, history, AutoPay, payment
# options, Pay Now) answers ``Cache-Control: no-store``: no browser cache, back button or shared
# proxy keeps a copy after log-out. Every view class of this package carries it
# (tests/security/test_payments_no_store.py crawls them all).
no_store = method_decorator(never_cache, name="dispatch")


def stripe_context() -> dict:
    """Stripe.js is loaded only on pages that take card details, and only when Stripe is configured."""
    if settings.PAYMENT_GATEWAY == "stripe" and settings.STRIPE_PUBLISHABLE_KEY:
        return {"stripe_publishable_key": settings.STRIPE_PUBLISHABLE_KEY}
    return {}


def without_nul(values: list[str]) -> list[str]:
    """Numbers from the query or the form, less any holding NUL (no invoice has one, and
    PostgreSQL refuses to compare text holding it)."""
    return [value for value in values if "\x00" not in value]


def pdf_response(payment: Payment) -> HttpResponse:
    """The receipt PDF of a succeeded payment, in the page's language, as a download."""
    pdf = render_receipt_pdf(payment, language=translation.get_language() or settings.LANGUAGE_CODE)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="receipt-{payment.reference}.pdf"'
    return response
