"""Saving a card to the wallet with the Stripe backend, through the wallet's *Add* page.

Everything of ours runs (view, form, ``tokenize``, ``gateway_customer_get_or_create``,
``payment_method_add``, the Stripe adapter and the real Stripe SDK); only the SDK's HTTP client is
fake (as in test_gateways.py): it records every request and answers like Stripe's API would.

Stripe.js turns the card into a PaymentMethod (``pm_…``) in the browser; the server gets only that
id. The company's Stripe Customer is created once, on its first card, and reused afterwards; the
SetupIntent attaches the PaymentMethod to it; the wallet keeps the token, brand, last four digits
and expiry only.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import pytest
from django.forms.models import model_to_dict

from accounts.models import Role
from payments.gateways import set_gateway_override
from payments.gateways.stripe_backend import StripeGateway
from payments.models import GatewayCustomer, PaymentMethod
from tests.accounts.factories import CompanyFactory, MembershipFactory, UserFactory

from .test_gateways import FakeStripeHTTP

pytestmark = pytest.mark.django_db

CARDS = {  # what Stripe knows about each PaymentMethod the browser made
    "pm_card_a": {"brand": "visa", "last4": "4242", "exp_month": 4, "exp_year": 2031},
    "pm_card_b": {"brand": "mastercard", "last4": "4444", "exp_month": 9, "exp_year": 2032},
    "pm_card_c": {"brand": "amex", "last4": "0005", "exp_month": 1, "exp_year": 2030},
}
DECLINED = "pm_card_declined"
TYPED_NUMBER, TYPED_CVC = "4000056655665556", "6619"  # posted anyway by a client that ignores Stripe.js


class StripeAPI(FakeStripeHTTP):
    """Answers customers, setup_intents and payment_methods from what was asked, like Stripe."""

    def request(self, method, url, headers, post_data=None):
        body = parse_qs(post_data.decode() if isinstance(post_data, bytes) else post_data or "")
        self.requests.append({"method": method, "url": url, "headers": dict(headers), "body": body})
        path = url.split("api.stripe.com", 1)[-1].split("?", 1)[0]
        if method == "post" and path == "/v1/customers":
            number = sum(1 for r in self.requests if r["url"].endswith("/v1/customers"))
            return self.answer({"id": f"cus_{number}", "object": "customer", "name": body["name"][0]})
        if method == "post" and path == "/v1/setup_intents":
            token = body["payment_method"][0]
            if token == DECLINED:
                error = {"type": "card_error", "code": "card_declined", "message": "Your card was declined."}
                return json.dumps({"error": error}), 402, {"Request-Id": "req_fake"}
            return self.answer(
                {
                    "id": f"seti_{token}",
                    "object": "setup_intent",
                    "status": "succeeded",
                    "customer": body["customer"][0],
                    "payment_method": token,
                }
            )
        if method == "get" and path.startswith("/v1/payment_methods/"):
            token = path.rsplit("/", 1)[-1]
            return self.answer({"id": token, "object": "payment_method", "type": "card", "card": CARDS[token]})
        return json.dumps({"error": {"message": f"not faked: {method} {path}"}}), 404, {}

    @staticmethod
    def answer(payload):
        return json.dumps(payload), 200, {"Request-Id": "req_fake"}

    def calls(self) -> list[str]:
        return [f"{r['method'].upper()} {r['url'].split('api.stripe.com', 1)[-1]}" for r in self.requests]


@pytest.fixture
def stripe_api(settings):
    settings.PAYMENT_GATEWAY = "stripe"
    settings.STRIPE_SECRET_KEY = "sk_test_fake"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_fake"
    api = StripeAPI()
    set_gateway_override(StripeGateway(settings.STRIPE_SECRET_KEY, http_client=api))
    yield api
    set_gateway_override(None)


def _add(client, token, **extra):
    return client.post(
        "/payments/wallet/add/",
        {"kind": "credit_card", "gateway_token": token, "nickname": f"카드 {token[-1]}", **extra},
    )


def test_the_first_card_creates_the_company_customer_and_attaches_the_card(client, admin_user, company, stripe_api):
    client.force_login(admin_user)

    response = _add(client, "pm_card_a", card_number=TYPED_NUMBER, cvc=TYPED_CVC, exp_month="4", exp_year="2031")

    assert response.status_code == 302
    assert stripe_api.calls() == ["POST /v1/customers", "POST /v1/setup_intents", "GET /v1/payment_methods/pm_card_a"]
    customer, setup, _ = stripe_api.requests
    assert customer["body"]["name"] == [company.name]
    assert customer["body"]["metadata[company_id]"] == [str(company.id)]
    assert customer["headers"]["Idempotency-Key"] == f"customer-{company.id}"
    assert setup["body"]["customer"] == ["cus_1"]
    assert setup["body"]["payment_method"] == ["pm_card_a"]
    assert setup["body"]["confirm"] == ["true"]
    assert setup["body"]["usage"] == ["off_session"]
    assert GatewayCustomer.objects.get(company=company, gateway="stripe").customer_id == "cus_1"
    method = PaymentMethod.objects.get(company=company)
    assert (method.gateway, method.gateway_token) == ("stripe", "pm_card_a")
    assert (method.brand, method.last4, method.exp_month, method.exp_year) == ("Visa", "4242", 4, 2031)
    # The details a client posted anyway went nowhere: not to Stripe, not into the row.
    sent = json.dumps([r["body"] for r in stripe_api.requests])
    stored = json.dumps(model_to_dict(method), default=str)
    for secret in (TYPED_NUMBER, TYPED_CVC):
        assert secret not in sent
        assert secret not in stored


def test_a_second_card_reuses_the_customer_and_another_company_gets_its_own(client, admin_user, company, stripe_api):
    client.force_login(admin_user)
    _add(client, "pm_card_a")

    response = _add(client, "pm_card_b")

    assert response.status_code == 302
    assert stripe_api.calls()[3:] == ["POST /v1/setup_intents", "GET /v1/payment_methods/pm_card_b"]
    assert stripe_api.requests[3]["body"]["customer"] == ["cus_1"]
    assert [(m.gateway_token, m.brand, m.last4) for m in PaymentMethod.objects.order_by("id")] == [
        ("pm_card_a", "Visa", "4242"),
        ("pm_card_b", "Mastercard", "4444"),
    ]
    assert GatewayCustomer.objects.filter(company=company).count() == 1
    # Another company: its own customer, once.
    other = CompanyFactory(name="두리택배")
    other_admin = UserFactory(username="otheradmin")
    MembershipFactory(user=other_admin, company=other, role=Role.ADMINISTRATOR)
    client.force_login(other_admin)

    assert _add(client, "pm_card_c").status_code == 302

    assert stripe_api.calls().count("POST /v1/customers") == 2
    assert stripe_api.requests[5]["body"]["metadata[company_id]"] == [str(other.id)]
    assert stripe_api.requests[6]["body"]["customer"] == ["cus_2"]
    assert GatewayCustomer.objects.get(company=other).customer_id == "cus_2"
    assert PaymentMethod.objects.get(company=other).gateway_token == "pm_card_c"


def test_a_card_stripe_declines_is_not_saved_and_the_form_says_so(client, admin_user, company, stripe_api):
    client.force_login(admin_user)

    response = _add(client, DECLINED)

    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert not PaymentMethod.objects.exists()
    assert stripe_api.calls() == ["POST /v1/customers", "POST /v1/setup_intents"]
    # The customer stays: the next card reuses it.
    _add(client, "pm_card_a")
    assert stripe_api.calls().count("POST /v1/customers") == 1


def test_without_a_stripe_token_nothing_is_sent_and_nothing_is_saved(client, admin_user, stripe_api):
    client.force_login(admin_user)

    response = client.post(
        "/payments/wallet/add/",
        {"kind": "credit_card", "card_number": TYPED_NUMBER, "cvc": TYPED_CVC, "exp_month": "4", "exp_year": "2031"},
    )

    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert stripe_api.requests == []
    assert not PaymentMethod.objects.exists()
