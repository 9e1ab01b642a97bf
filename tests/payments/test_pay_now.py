"""Pay Now without logging in (R3, R7, R1): server-enforced steps, refusals, rate limit, receipt."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail

from accounts.models import AuditEvent
from invoices.models import InvoiceStatus
from payments.models import Payment, PaymentMethod, PaymentStatus
from tests.accounts.factories import ShippingAccountFactory
from tests.invoices.factories import InvoiceFactory

from .conftest import CARD_INSUFFICIENT, CARD_OK, future

pytestmark = pytest.mark.django_db

URL = "/pay-now/"


def lookup(client, account="A1B2C3", number="INV000000101", amount="13,000"):
    return client.post(URL, {"action": "lookup", "account_number": account, "invoice_number": number, "amount": amount})


def details(client, number=CARD_OK, email="payer@example.com"):
    return client.post(
        URL,
        {
            "action": "details",
            "pm-kind": "credit_card",
            "pm-holder_name": "김철수",
            "pm-card_number": number,
            "pm-exp_month": "12",
            "pm-exp_year": "2031",
            "pm-cvc": "123",
            "pm-email": email,
        },
    )


def confirm(client):
    page = client.get(URL)
    key = page.context["form"].initial["idempotency_key"]
    return client.post(URL, {"action": "confirm", "idempotency_key": key}), key


def test_pay_now_from_start_to_receipt(client, invoice, django_capture_on_commit_callbacks):
    assert lookup(client).status_code == 302
    assert client.get(URL).context["step"] == "details"
    assert details(client).status_code == 302
    review = client.get(URL)
    assert review.context["step"] == "review"
    assert "₩13,000" in review.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response, _key = confirm(client)

    assert response.status_code == 302
    done = client.get(URL)
    payment = Payment.objects.get()
    assert done.context["step"] == "done"
    assert payment.reference in done.content.decode()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.company is None
    assert payment.payer_email == "payer@example.com"
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert not PaymentMethod.objects.exists()  # nothing saved in a wallet
    assert mail.outbox[0].to == ["payer@example.com"]
    pdf = client.get(URL, {"pdf": "1"})
    assert pdf.content.startswith(b"%PDF")


def test_every_step_is_no_store(client, invoice):
    assert "no-store" in client.get(URL)["Cache-Control"]
    lookup(client)
    assert "no-store" in client.get(URL)["Cache-Control"]
    assert "no-store" in details(client)["Cache-Control"]


def test_steps_cannot_be_skipped(client, invoice):
    response = client.post(URL, {"action": "confirm", "idempotency_key": "forged"})
    assert response.status_code == 302
    assert client.get(URL).context["step"] == "lookup"

    lookup(client)
    client.post(URL, {"action": "confirm", "idempotency_key": "forged"})
    assert client.get(URL).context["step"] == "details"
    assert Payment.objects.count() == 0


def test_back_returns_to_the_previous_step_without_paying(client, invoice):
    lookup(client)
    details(client)
    client.post(URL, {"action": "back"})

    assert client.get(URL).context["step"] == "details"
    assert Payment.objects.count() == 0


def test_a_finished_payment_cannot_be_submitted_again(client, invoice):
    lookup(client)
    details(client)
    _response, key = confirm(client)

    again = client.post(URL, {"action": "confirm", "idempotency_key": key})

    assert again.status_code == 302
    assert Payment.objects.count() == 1
    assert client.get(URL).context["step"] == "done"


def test_decline_returns_to_payment_details_with_the_reason(client, invoice):
    lookup(client)
    details(client, number=CARD_INSUFFICIENT)
    confirm(client)

    page = client.get(URL)
    assert page.context["step"] == "details"
    assert "insufficient funds" in page.content.decode()
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN


def test_temporary_number_is_refused_with_the_billing_contact(client, company):
    account = ShippingAccountFactory(company=company, number="1234567890", billing_contact_phone="02-7777-1111")
    InvoiceFactory(
        account=account, number="INVTEMP00001", total=Decimal("5000"), due_date=future(5), invoice_date=future(0)
    )

    response = lookup(client, account="1234567890", number="INVTEMP00001", amount="5000")

    body = response.content.decode()
    assert response.status_code == 200
    assert "temporary 10-digit" in body
    assert "02-7777-1111" in body
    assert client.get(URL).context["step"] == "lookup"


def test_paid_invoice_says_so(client, invoice):
    type(invoice).objects.filter(pk=invoice.pk).update(amount_paid=invoice.total)

    response = lookup(client)

    assert "already paid" in response.content.decode()


def test_unknown_combinations_get_one_message_that_does_not_say_which_value(client, invoice):
    wrong_amount = lookup(client, amount="12000").content.decode()
    wrong_invoice = lookup(client, number="INV999999999").content.decode()
    wrong_account = lookup(client, account="ZZZZZZ").content.decode()

    message = "We could not find an invoice with these details"
    assert message in wrong_amount and message in wrong_invoice and message in wrong_account


def test_lookups_are_rate_limited_per_client_address(client, invoice, settings):
    settings.PAY_NOW_LIMIT_PER_IP = 3
    for n in range(3):
        lookup(client, account=f"ZZZZZ{n}")

    response = lookup(client)

    assert "Too many attempts" in response.content.decode()
    assert AuditEvent.objects.filter(action="pay_now.locked_out").exists()
    assert client.get(URL).context["step"] == "lookup"
