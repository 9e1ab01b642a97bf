"""Sentry (billing_centre/observability/sentry.py): off without a DSN, on once with one, and no card
number, CVC or secret in any event it sends, tested with a transport that keeps the envelopes."""

from __future__ import annotations

import re

import pytest
import sentry_sdk
from sentry_sdk.transport import Transport

from accounts.models import Role
from billing_centre.observability import sentry as observability_sentry
from billing_centre.observability.sentry import FILTERED, scrub, scrub_event, sentry_init
from core.luhn import luhn_valid
from tests.accounts.factories import CompanyFactory, MembershipFactory, UserFactory

CARD = "4242424242424242"
CVC = "9731"


class CapturingTransport(Transport):
    """Keeps every envelope instead of sending it."""

    def __init__(self, options=None):
        super().__init__(options)
        self.envelopes = []

    def capture_envelope(self, envelope):
        self.envelopes.append(envelope)

    def serialized(self) -> str:
        parts = []
        for envelope in self.envelopes:
            for item in envelope.items:
                parts.append(item.get_bytes().decode("utf-8", "replace"))
        return "\n".join(parts)


@pytest.fixture
def sentry_off():
    """No client before and after the test (the SDK's client is process-wide)."""
    observability_sentry._initialised = None
    sentry_sdk.get_global_scope().set_client(None)
    yield
    client = sentry_sdk.get_client()
    if client.is_active():
        client.close()
    sentry_sdk.get_global_scope().set_client(None)
    observability_sentry._initialised = None


def test_without_a_dsn_no_client_is_made(sentry_off):
    assert sentry_init(dsn="") is False
    assert not sentry_sdk.get_client().is_active()


def test_init_is_idempotent(sentry_off):
    transport = CapturingTransport()
    assert sentry_init(dsn="https://public@sentry.invalid/1", environment="test", transport=transport)
    client = sentry_sdk.get_client()
    assert client.is_active()
    assert not sentry_sdk.scope.should_send_default_pii()
    assert client.options["before_send"] is scrub_event
    assert client.options["environment"] == "test"

    assert sentry_init(dsn="https://public@sentry.invalid/1", environment="test", transport=transport)
    assert sentry_sdk.get_client() is client  # the second call made no new client


def test_luhn():
    assert luhn_valid(CARD)
    assert luhn_valid("4000056655665556")
    assert not luhn_valid("4242424242424241")


def test_scrubber_takes_card_fields_and_secrets_out_of_every_part_of_an_event():
    event = {
        "request": {
            "url": "https://billing.example/payments/wallet/add/",
            "method": "POST",
            "data": {
                "kind": "credit_card",
                "card_number": "4242 4242 4242 4242",
                "new-card_number": CARD,
                "cvc": CVC,
                "new-cvc": CVC,
                "exp_month": "12",
                "new-exp_year": "2031",
                "password": "hunter2-hunter2",
                "nickname": "법인카드",
                "invoice": "INV000000101",
            },
            "query_string": f"token=abc123secret&page=2&cvv={CVC}",
            "headers": {"Authorization": "Bearer abc.def.ghi", "Cookie": "sessionid=xyz", "Accept": "text/html"},
            "cookies": {"sessionid": "xyz"},
        },
        "extra": {"payload": f"number {CARD} charged", "api_key": "k-123", "stripe": "sk_live_abcdefghijklmnop"},
        "breadcrumbs": {
            "values": [
                {"message": f"card_number={CARD}&cvc={CVC}", "data": {"secret": "s3cr3t"}},
                {"message": "webhook whsec_abcdefghijklmnop verified"},
            ]
        },
        "exception": {
            "values": [
                {
                    "type": "RuntimeError",
                    "value": f"gateway refused {CARD[:4]} {CARD[4:8]} {CARD[8:12]} {CARD[12:]}",
                    "stacktrace": {
                        "frames": [
                            {
                                "function": "payment_method_save",
                                "context_line": '    cvc = (data.get("cvc") or "").strip()',
                                "vars": {
                                    "number": f"'{CARD}'",
                                    "cvc": f"'{CVC}'",
                                    "details": {"card_number": f"'{CARD}'", "cvc": f"'{CVC}'", "kind": "'credit_card'"},
                                    "data": f"<QueryDict: {{'new-cvc': ['{CVC}'], 'new-card_number': ['{CARD}']}}>",
                                    "invoice_number": "'INV000000101'",
                                },
                            }
                        ]
                    },
                }
            ]
        },
    }

    scrubbed = scrub_event(event, {})
    text = repr(scrubbed)

    assert CARD not in text and "4242 4242 4242 4242" not in text
    assert not re.search(rf"(?<![0-9A-Za-z]){CVC}(?![0-9A-Za-z])", text)
    for secret in ("hunter2", "abc123secret", "abc.def.ghi", "xyz", "k-123", "sk_live_", "whsec_", "s3cr3t"):
        assert secret not in text, secret
    data = scrubbed["request"]["data"]
    assert data["card_number"] == data["cvc"] == data["exp_month"] == data["new-exp_year"] == FILTERED
    # What helps to debug stays
    assert (data["kind"], data["nickname"], data["invoice"]) == ("credit_card", "법인카드", "INV000000101")
    assert "page=2" in scrubbed["request"]["query_string"]
    assert scrubbed["request"]["headers"]["Accept"] == "text/html"
    frame = scrubbed["exception"]["values"][0]["stacktrace"]["frames"][0]
    assert frame["vars"]["invoice_number"] == "'INV000000101'"
    assert frame["context_line"] == '    cvc = (data.get("cvc") or "").strip()'  # source code is left alone
    assert event["request"]["data"]["cvc"] == CVC  # the original is not changed


def test_digits_that_are_not_a_card_number_stay():
    assert scrub("invoice INV000000101, amount 1300000000000 KRW, phone 080-687-6886") == (
        "invoice INV000000101, amount 1300000000000 KRW, phone 080-687-6886"
    )
    assert scrub(["authorization", "Bearer x"]) == ["authorization", FILTERED]


@pytest.mark.django_db
def test_an_exception_on_the_card_entry_post_reaches_sentry_without_the_number_or_cvc(
    client, monkeypatch, settings, sentry_off
):
    """The wallet's card entry (POST /payments/wallet/add/) fails inside the gateway call with the card
    number and CVC in the POST and in the frames' variables: the event is sent, without them."""
    from payments.gateways.simulated import SimulatedGateway

    settings.PAYMENT_GATEWAY = "simulated"
    transport = CapturingTransport()
    sentry_init(dsn="https://public@sentry.invalid/1", environment="test", transport=transport)

    def tokenize_card(self, *, number, exp_month, exp_year, cvc, **kwargs):
        card_number, _security_code = number, cvc  # locals a frame would show
        raise RuntimeError(f"gateway failed for {card_number[:6]}")

    monkeypatch.setattr(SimulatedGateway, "tokenize_card", tokenize_card)
    company = CompanyFactory()
    user = UserFactory()
    MembershipFactory(user=user, company=company, role=Role.ADMINISTRATOR)
    client.force_login(user)
    client.raise_request_exception = False

    response = client.post(
        "/payments/wallet/add/",
        {
            "kind": "credit_card",
            "holder_name": "홍길동",
            "card_number": CARD,
            "exp_month": "12",
            "exp_year": "2031",
            "cvc": CVC,
            "nickname": "법인카드",
        },
    )
    sentry_sdk.flush()

    assert response.status_code == 500
    body = transport.serialized()
    assert '"type":"event"' in body or transport.envelopes, "no event was sent"
    assert "RuntimeError" in body and "gateway failed for 424242" in body  # the event is the one raised
    assert "tokenize_card" in body  # with its frames
    assert CARD not in body
    assert not re.search(rf"(?<![0-9A-Za-z]){CVC}(?![0-9A-Za-z])", body), "the CVC was sent"
