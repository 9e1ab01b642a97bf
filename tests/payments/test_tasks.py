"""Celery entry points and the Stripe-configured pages."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from payments import services
from payments.models import PaymentStatus
from payments.tasks import payment_receipt_send_task, payment_reconcile_task

from .conftest import CARD_TIMEOUT, card_method

pytestmark = pytest.mark.django_db


def test_reconcile_task_settles_processing_payments(admin_user, company, invoice):
    [payment] = services.payment_create(
        actor=admin_user,
        invoice_ids=[invoice.id],
        source=services.PaymentSource.from_method(card_method(company, CARD_TIMEOUT)),
        idempotency_key="task",
    ).payments
    assert payment.status == PaymentStatus.PROCESSING

    settled = payment_reconcile_task.delay(older_than_seconds=0).get()

    payment.refresh_from_db()
    assert settled == 1
    assert payment.status == PaymentStatus.SUCCEEDED


def test_receipt_task_mails_the_payer_with_the_pdf(admin_user, invoice, wallet_card):
    [payment] = services.payment_create(
        actor=admin_user,
        invoice_ids=[invoice.id],
        source=services.PaymentSource.from_method(wallet_card),
        idempotency_key="r",
    ).payments

    assert payment_receipt_send_task.delay(payment.id).get() is True
    assert mail.outbox[-1].to == [admin_user.email]
    assert mail.outbox[-1].attachments[0][1].startswith(b"%PDF")


def test_with_stripe_configured_card_pages_use_stripe_fields_only(login, admin_user, company, settings):
    settings.PAYMENT_GATEWAY = "stripe"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_fake"

    body = login(admin_user).get(reverse("payments:wallet_add") + f"?company={company.id}").content.decode()

    assert "https://js.stripe.com/v3/" in body
    assert 'data-stripe-key="pk_test_fake"' in body
    assert 'name="card_number"' not in body


def test_without_stripe_no_external_script_is_loaded(login, admin_user, company):
    body = login(admin_user).get(reverse("payments:wallet_add") + f"?company={company.id}").content.decode()

    assert "js.stripe.com" not in body
    assert 'name="card_number"' in body


def test_pay_now_receipt_can_be_emailed_from_the_last_step(client, invoice):
    client.post(
        "/pay-now/",
        {
            "action": "lookup",
            "account_number": invoice.account.number,
            "invoice_number": invoice.number,
            "amount": "13000",
        },
    )
    client.post(
        "/pay-now/",
        {
            "action": "details",
            "pm-kind": "credit_card",
            "pm-holder_name": "김",
            "pm-card_number": "4242424242424242",
            "pm-exp_month": "12",
            "pm-exp_year": "2031",
            "pm-cvc": "123",
        },
    )
    key = client.get("/pay-now/").context["form"].initial["idempotency_key"]
    client.post("/pay-now/", {"action": "confirm", "idempotency_key": key})

    client.post("/pay-now/", {"action": "email", "email": "later@example.com"})

    assert mail.outbox[-1].to == ["later@example.com"]
    assert client.get("/pay-now/").context["emailed_to"] == "later@example.com"
