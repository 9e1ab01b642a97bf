"""Stripe webhooks: real signatures, tampering, stale timestamps, duplicates, replay by staff."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from decimal import Decimal

import pytest

from accounts.models import AuditEvent
from invoices.models import InvoiceStatus
from payments import services, webhooks
from payments.gateways import set_gateway_override
from payments.gateways.stripe_backend import StripeGateway
from payments.models import Payment, PaymentStatus, WebhookEvent
from tests.accounts.factories import UserFactory

from .test_gateways import FakeStripeHTTP, intent

pytestmark = pytest.mark.django_db

SECRET = "whsec_test_secret"
URL = "/payments/webhooks/stripe/"


@pytest.fixture(autouse=True)
def _webhook_secret(settings):
    settings.STRIPE_WEBHOOK_SECRET = SECRET


def signed(payload: dict, *, timestamp: int | None = None, secret: str = SECRET) -> tuple[bytes, str]:
    body = json.dumps(payload).encode()
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return body, f"t={timestamp},v1={signature}"


def event(event_type: str, payment: Payment, event_id="evt_1", **intent_extra) -> dict:
    return {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "data": {
            "object": {
                "id": "pi_123",
                "object": "payment_intent",
                "metadata": {"payment_reference": payment.reference},
                # A PaymentIntent always carries its amount (minor units) and currency: both are
                # checked against the payment (tests/payments/test_webhook_anomalies.py).
                "amount": 13000,
                "currency": "krw",
                **intent_extra,
            }
        },
    }


@pytest.fixture
def processing_payment(admin_user, invoice, wallet_card, settings):
    """A payment sent to Stripe whose answer never came (Stripe answered 500)."""
    settings.PAYMENT_GATEWAY = "stripe"
    http = FakeStripeHTTP({"/v1/payment_intents": (500, {"error": {"type": "api_error", "message": "boom"}})})
    set_gateway_override(StripeGateway("sk_test_fake", http_client=http))
    wallet_card.gateway = "stripe"
    wallet_card.save()
    try:
        [payment] = services.payment_create(
            actor=admin_user,
            invoice_ids=[invoice.id],
            source=services.PaymentSource.from_method(wallet_card),
            idempotency_key="wh",
        ).payments
    finally:
        set_gateway_override(None)
    assert payment.status == PaymentStatus.PROCESSING
    assert http.requests[0]["body"]["amount"] == ["13000"]
    assert http.requests[0]["headers"]["Idempotency-Key"] == "wh:KRW"
    return payment


def post(client, body, header):
    return client.generic("POST", URL, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header)


def test_succeeded_event_settles_the_payment(client, processing_payment, invoice):
    body, header = signed(event("payment_intent.succeeded", processing_payment))

    response = post(client, body, header)

    assert response.status_code == 200
    processing_payment.refresh_from_db()
    invoice.refresh_from_db()
    assert processing_payment.status == PaymentStatus.SUCCEEDED
    assert invoice.status == InvoiceStatus.PAID
    assert WebhookEvent.objects.get().processed_at is not None


def test_failed_event_fails_the_payment_and_leaves_the_invoice_open(client, processing_payment, invoice):
    body, header = signed(
        event(
            "payment_intent.payment_failed",
            processing_payment,
            last_payment_error={"code": "card_declined", "decline_code": "insufficient_funds"},
        )
    )

    assert post(client, body, header).status_code == 200

    processing_payment.refresh_from_db()
    assert processing_payment.status == PaymentStatus.FAILED
    assert processing_payment.failure_code == "insufficient_funds"
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN


def test_duplicate_delivery_is_stored_once_and_does_nothing(client, processing_payment, invoice):
    body, header = signed(event("payment_intent.succeeded", processing_payment))

    post(client, body, header)
    second = post(client, body, header)

    assert second.status_code == 200
    assert WebhookEvent.objects.count() == 1
    invoice.refresh_from_db()
    assert invoice.amount_paid == Decimal("13000")


def test_tampered_body_is_rejected(client, processing_payment):
    body, header = signed(event("payment_intent.succeeded", processing_payment))
    tampered = body.replace(b"pi_123", b"pi_999")

    response = post(client, tampered, header)

    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()
    processing_payment.refresh_from_db()
    assert processing_payment.status == PaymentStatus.PROCESSING


def test_wrong_secret_and_stale_timestamp_are_rejected(client, processing_payment):
    payload = event("payment_intent.succeeded", processing_payment)
    assert post(client, *signed(payload, secret="whsec_other")).status_code == 400
    assert post(client, *signed(payload, timestamp=int(time.time()) - 301)).status_code == 400
    assert post(client, b"{}", "").status_code == 400
    assert not WebhookEvent.objects.exists()


def test_get_is_not_allowed(client):
    assert client.get(URL).status_code == 405


def test_event_for_an_unknown_payment_is_recorded_and_can_be_replayed_by_staff(client, processing_payment, invoice):
    payload = event("payment_intent.succeeded", processing_payment)
    payload["data"]["object"]["metadata"] = {"payment_reference": "PMUNKNOWN"}
    body, header = signed(payload)

    assert post(client, body, header).status_code == 200
    stored = WebhookEvent.objects.get()
    assert "LookupError" in stored.error

    # staff fix the reference (e.g. the payment arrived late) and replay
    stored.payload["data"]["object"]["metadata"]["payment_reference"] = processing_payment.reference
    stored.save()
    staff = UserFactory(is_staff=True, is_superuser=True)
    webhooks.webhook_replay(event=stored, actor=staff)

    stored.refresh_from_db()
    processing_payment.refresh_from_db()
    assert stored.error == ""
    assert processing_payment.status == PaymentStatus.SUCCEEDED
    assert AuditEvent.objects.filter(action="webhook.replayed").exists()


def test_admin_replay_action(client, processing_payment):
    body, header = signed(event("payment_intent.succeeded", processing_payment))
    post(client, body, header)
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)

    response = client.post(
        "/admin/payments/webhookevent/",
        {"action": "replay_webhook_events", "_selected_action": [WebhookEvent.objects.get().pk]},
    )

    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="webhook.replayed").count() == 1


def test_reconcile_asks_stripe_for_the_payment_intent(processing_payment, invoice):
    http = FakeStripeHTTP(
        {
            "/v1/payment_intents/search": (
                200,
                {"object": "search_result", "data": [intent()], "has_more": False, "url": "/v1/payment_intents/search"},
            )
        }
    )
    set_gateway_override(StripeGateway("sk_test_fake", http_client=http))
    try:
        services.payment_reconcile()
    finally:
        set_gateway_override(None)

    processing_payment.refresh_from_db()
    assert processing_payment.status == PaymentStatus.SUCCEEDED
    assert "wh%3AKRW" in http.requests[0]["url"]
