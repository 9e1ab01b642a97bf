"""Gateways: the simulated test numbers, and the Stripe adapter through a fake HTTP client under the real SDK."""

from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import parse_qs

import pytest
import stripe

from payments.gateways import Outcome
from payments.gateways.base import DeclineKind
from payments.gateways.simulated import SimulatedGateway
from payments.gateways.stripe_backend import StripeGateway

from .conftest import CARD_EXPIRED, CARD_INSUFFICIENT, CARD_OK, CARD_PROCESSING_ERROR, CARD_TIMEOUT


class FakeStripeHTTP(stripe.HTTPClient):
    """Records every request the SDK makes and answers with canned Stripe objects."""

    name = "fake"

    def __init__(self, responses=None):
        super().__init__()
        self.requests: list[dict] = []
        self.responses = responses or {}

    def request(self, method, url, headers, post_data=None):
        body = parse_qs(post_data or "") if isinstance(post_data, str) else parse_qs((post_data or b"").decode())
        self.requests.append({"method": method, "url": url, "headers": dict(headers), "body": body})
        for path, (status, payload) in self.responses.items():
            if path in url:
                return json.dumps(payload), status, {"Request-Id": "req_fake"}
        return json.dumps({"error": {"message": "not faked"}}), 404, {}

    def close(self):
        pass


def intent(status="succeeded", **extra):
    return {"id": "pi_123", "object": "payment_intent", "status": status, **extra}


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [(Decimal("13000"), "KRW", "13000"), (Decimal("12.34"), "USD", "1234"), (Decimal("500"), "JPY", "500")],
)
def test_stripe_charge_sends_minor_units_and_the_idempotency_key(amount, currency, minor):
    http = FakeStripeHTTP({"/v1/payment_intents": (200, intent())})
    gateway = StripeGateway("sk_test_fake", http_client=http)

    result = gateway.charge(
        token="pm_card_visa", amount=amount, currency=currency, idempotency_key="attempt-1:" + currency
    )

    assert result.outcome == Outcome.SUCCEEDED
    assert result.reference == "pi_123"
    [request] = http.requests
    assert request["method"] == "post"
    assert request["url"].endswith("/v1/payment_intents")
    assert request["body"]["amount"] == [minor]
    assert request["body"]["currency"] == [currency.lower()]
    assert request["headers"]["Idempotency-Key"] == "attempt-1:" + currency


def test_stripe_card_error_is_a_typed_decline():
    error = {
        "error": {
            "type": "card_error",
            "code": "card_declined",
            "decline_code": "insufficient_funds",
            "message": "Your card has insufficient funds.",
        }
    }
    http = FakeStripeHTTP({"/v1/payment_intents": (402, error)})

    result = StripeGateway("sk_test_fake", http_client=http).charge(
        token="pm_x", amount=Decimal("1000"), currency="KRW", idempotency_key="k"
    )

    assert result.outcome == Outcome.DECLINED
    assert result.decline_code == "insufficient_funds"
    assert result.decline_kind == DeclineKind.SOFT


def test_stripe_server_error_leaves_the_outcome_unknown():
    http = FakeStripeHTTP({"/v1/payment_intents": (500, {"error": {"type": "api_error", "message": "boom"}})})

    result = StripeGateway("sk_test_fake", http_client=http).charge(
        token="pm_x", amount=Decimal("1000"), currency="KRW", idempotency_key="k"
    )

    assert result.outcome == Outcome.UNKNOWN
    assert len(http.requests) == 1  # never retried blindly


def test_stripe_retrieve_reads_the_payment_intent():
    http = FakeStripeHTTP({"/v1/payment_intents/pi_123": (200, intent("processing"))})

    result = StripeGateway("sk_test_fake", http_client=http).retrieve(idempotency_key="k", reference="pi_123")

    assert result.outcome == Outcome.UNKNOWN
    assert http.requests[0]["method"] == "get"


def test_stripe_save_method_uses_a_setup_intent_and_keeps_display_facts():
    http = FakeStripeHTTP(
        {
            "/v1/setup_intents": (
                200,
                {"id": "seti_1", "object": "setup_intent", "status": "succeeded", "payment_method": "pm_1"},
            ),
            "/v1/payment_methods/pm_1": (
                200,
                {
                    "id": "pm_1",
                    "object": "payment_method",
                    "type": "card",
                    "card": {"brand": "visa", "last4": "4242", "exp_month": 4, "exp_year": 2031},
                },
            ),
        }
    )

    saved = StripeGateway("sk_test_fake", http_client=http).save_method(token="pm_1", customer="cus_1")

    assert (saved.token, saved.brand, saved.last4, saved.exp_month) == ("pm_1", "Visa", "4242", 4)
    assert http.requests[0]["body"]["customer"] == ["cus_1"]
    assert http.requests[0]["headers"]["Idempotency-Key"] == "setup-pm_1"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("number", "outcome", "code"),
    [
        (CARD_OK, Outcome.SUCCEEDED, ""),
        (CARD_INSUFFICIENT, Outcome.DECLINED, "insufficient_funds"),
        (CARD_EXPIRED, Outcome.DECLINED, "expired_card"),
        (CARD_PROCESSING_ERROR, Outcome.DECLINED, "processing_error"),
        (CARD_TIMEOUT, Outcome.UNKNOWN, ""),
    ],
)
def test_simulated_test_numbers(number, outcome, code):
    gateway = SimulatedGateway()
    saved = gateway.tokenize_card(number=number, exp_month=1, exp_year=2031, cvc="123", holder_name="x")

    result = gateway.charge(token=saved.token, amount=Decimal("1000"), currency="KRW", idempotency_key=number)

    assert result.outcome == outcome
    assert result.decline_code == code
    assert number not in saved.token
    assert saved.last4 == number[-4:]


@pytest.mark.django_db
def test_simulated_timeout_is_found_succeeded_by_retrieve_and_replays_are_idempotent():
    gateway = SimulatedGateway()
    token = gateway.tokenize_card(number=CARD_TIMEOUT, exp_month=1, exp_year=2031, cvc="123", holder_name="x").token

    assert (
        gateway.charge(token=token, amount=Decimal("1"), currency="KRW", idempotency_key="t").outcome == Outcome.UNKNOWN
    )
    assert gateway.retrieve(idempotency_key="t").outcome == Outcome.SUCCEEDED
    assert (
        gateway.charge(token=token, amount=Decimal("1"), currency="KRW", idempotency_key="t").outcome
        == Outcome.SUCCEEDED
    )
    assert gateway.retrieve(idempotency_key="never-sent").outcome == Outcome.NOT_FOUND
