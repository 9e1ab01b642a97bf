"""Card numbers and CVCs never reach the database or the logs (DESIGN.md, quality bar).

The payment paths in detail; tests/security/test_card_data.py types a card into every form that
takes one. Both search a real ``pg_dump`` of the test database (tests/security/card_leaks.py).
"""

from __future__ import annotations

import logging
import re

import pytest

from payments.models import Payment, PaymentStatus
from tests.security.card_leaks import cvc_hits, database_dump, log_cvc_hits, number_hits

from .conftest import CARD_OK

pytestmark = pytest.mark.django_db

CVC = "7319"


@pytest.mark.needs_postgres
# pg_dump reads from its own connection: the rows must be committed; ids start at 1 (no CVC look-alike).
@pytest.mark.django_db(transaction=True, reset_sequences=True)
def test_full_card_number_and_cvc_are_in_no_table_and_no_log(client, admin_user, invoice, account, caplog):
    from decimal import Decimal

    from tests.invoices.factories import InvoiceFactory

    from .conftest import future

    caplog.set_level(logging.DEBUG)
    second = InvoiceFactory(
        account=account, number="INV000000202", total=Decimal("7000"), due_date=future(9), invoice_date=future(0)
    )
    # 1. logged in: a new card, saved to the wallet
    client.force_login(admin_user)
    page = client.get("/payments/pay/", {"invoice": invoice.number})
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page.content.decode()).group(1)
    client.post(
        "/payments/pay/",
        {
            "idempotency_key": key,
            "invoice": invoice.number,
            "method": "new",
            "when": "today",
            "save_to_wallet": "on",
            "new-kind": "credit_card",
            "new-holder_name": "홍길동",
            "new-card_number": CARD_OK,
            "new-exp_month": "12",
            "new-exp_year": "2031",
            "new-cvc": CVC,
        },
    )
    client.logout()
    # 2. Pay Now, without logging in
    client.post(
        "/pay-now/",
        {"action": "lookup", "account_number": account.number, "invoice_number": second.number, "amount": "7000"},
    )
    client.post(
        "/pay-now/",
        {
            "action": "details",
            "pm-kind": "credit_card",
            "pm-holder_name": "김철수",
            "pm-card_number": CARD_OK,
            "pm-exp_month": "12",
            "pm-exp_year": "2031",
            "pm-cvc": CVC,
        },
    )
    confirm_key = client.get("/pay-now/").context["form"].initial["idempotency_key"]
    client.post("/pay-now/", {"action": "confirm", "idempotency_key": confirm_key})
    assert list(Payment.objects.values_list("status", flat=True)) == [PaymentStatus.SUCCEEDED] * 2

    everything = database_dump()
    assert not number_hits(everything, CARD_OK)
    assert not cvc_hits(everything, CVC)
    assert re.search(r"\b4242\b", everything)  # the last four digits are kept, as they should be
    assert not number_hits(caplog.text, CARD_OK)
    assert not log_cvc_hits(caplog.text, CVC)


def test_error_reports_mask_card_numbers_and_cvcs_on_every_card_form(client, admin_user, invoice):
    from django.views.debug import SafeExceptionReporterFilter

    client.post(
        "/pay-now/",
        {
            "action": "lookup",
            "account_number": invoice.account.number,
            "invoice_number": invoice.number,
            "amount": "13000",
        },
    )
    response = client.post(
        "/pay-now/", {"action": "details", "pm-kind": "credit_card", "pm-card_number": CARD_OK, "pm-cvc": CVC}
    )

    shown = SafeExceptionReporterFilter().get_post_parameters(response.wsgi_request)
    assert shown["pm-card_number"] != CARD_OK
    assert shown["pm-cvc"] != CVC
    client.force_login(admin_user)
    response = client.post(
        "/payments/pay/", {"invoice": invoice.number, "method": "new", "new-card_number": CARD_OK, "new-cvc": CVC}
    )
    shown = SafeExceptionReporterFilter().get_post_parameters(response.wsgi_request)
    assert shown["new-card_number"] != CARD_OK
    assert shown["new-cvc"] != CVC
    response = client.post("/payments/wallet/add/", {"kind": "credit_card", "card_number": CARD_OK, "cvc": CVC})
    shown = SafeExceptionReporterFilter().get_post_parameters(response.wsgi_request)
    assert shown["card_number"] != CARD_OK
    assert shown["cvc"] != CVC
