"""Card numbers, CVCs and expiry dates take ASCII digits only, and no error report carries them.

Python's ``str.isdigit()`` is true for ``²``, full-width ``４`` and Arabic-Indic ``٤``; ``int()``
then fails on ``²`` (a 500 from the Luhn check, reachable without logging in on Pay Now) and
quietly accepts the others. Each spelling must be refused next to its field with nothing written,
on Pay Now, on a one-time payment with a new card and in the wallet.

The error-report tests render what Django would e-mail to ADMINS for an exception raised while
the card number is held (``ExceptionReporter`` with the default ``SafeExceptionReporterFilter``)
and assert that neither the number nor the CVC is in it.
"""

from __future__ import annotations

import re
import sys

import pytest
from django.core.signals import got_request_exception
from django.views.debug import ExceptionReporter
from django.views.decorators.debug import sensitive_variables

from payments.gateways import set_gateway_override
from payments.gateways.simulated import SimulatedGateway
from payments.gateways.stripe_backend import StripeGateway
from payments.models import Payment, PaymentMethod, SimulatedCharge

from .conftest import CARD_OK
from .test_gateways import FakeStripeHTTP

pytestmark = pytest.mark.django_db

PAY_NOW = "/pay-now/"
DIGITS_ONLY = "Enter the card number with the digits 0-9 only."
CVC_DIGITS_ONLY = "Enter the security code with the digits 0-9 only."

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")

UNICODE_NUMBERS = {
    "superscript": CARD_OK[:-1] + "²",  # 424242424242424² : int("²") raised in the Luhn check
    "full_width": CARD_OK.translate(FULL_WIDTH),
    "arabic_indic": CARD_OK.translate(ARABIC_INDIC),
}
UNICODE_CVCS = {
    "superscript": "12³",
    "full_width": "123".translate(FULL_WIDTH),
    "arabic_indic": "123".translate(ARABIC_INDIC),
}

REPORT_CARD = "4242424242424242"
REPORT_CVC = "8357"


def card_fields(prefix: str = "", *, number: str = CARD_OK, cvc: str = "123", month: str = "12") -> dict:
    return {
        f"{prefix}kind": "credit_card",
        f"{prefix}holder_name": "김철수",
        f"{prefix}card_number": number,
        f"{prefix}exp_month": month,
        f"{prefix}exp_year": "2031",
        f"{prefix}cvc": cvc,
    }


def pay_now_at_details(client) -> None:
    response = client.post(
        PAY_NOW, {"action": "lookup", "account_number": "A1B2C3", "invoice_number": "INV000000101", "amount": "13000"}
    )
    assert response.status_code == 302
    assert client.get(PAY_NOW).context["step"] == "details"


def review_key(client, invoice) -> str:
    page = client.get("/payments/pay/", {"invoice": invoice.number})
    return re.search(r'name="idempotency_key" value="([^"]+)"', page.content.decode()).group(1)


def assert_nothing_written() -> None:
    assert not PaymentMethod.objects.exists()
    assert not Payment.objects.exists()
    assert not SimulatedCharge.objects.exists()


# --- Only ASCII digits -------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", sorted(UNICODE_NUMBERS))
def test_pay_now_refuses_a_card_number_in_unicode_digits(client, invoice, spelling):
    pay_now_at_details(client)

    response = client.post(PAY_NOW, {"action": "details", **card_fields("pm-", number=UNICODE_NUMBERS[spelling])})

    assert response.status_code == 200
    assert response.context["form"].errors["card_number"] == [DIGITS_ONLY]
    assert client.get(PAY_NOW).context["step"] == "details"  # no token, no review
    assert_nothing_written()


@pytest.mark.parametrize("spelling", sorted(UNICODE_CVCS))
def test_pay_now_refuses_a_security_code_in_unicode_digits(client, invoice, spelling):
    pay_now_at_details(client)

    response = client.post(PAY_NOW, {"action": "details", **card_fields("pm-", cvc=UNICODE_CVCS[spelling])})

    assert response.status_code == 200
    assert response.context["form"].errors["cvc"] == [CVC_DIGITS_ONLY]
    assert client.get(PAY_NOW).context["step"] == "details"
    assert_nothing_written()


def test_pay_now_refuses_an_expiry_month_in_full_width_digits(client, invoice):
    pay_now_at_details(client)

    response = client.post(PAY_NOW, {"action": "details", **card_fields("pm-", month="１２")})

    assert response.status_code == 200
    assert "exp_month" in response.context["form"].errors
    assert_nothing_written()


@pytest.mark.parametrize("spelling", sorted(UNICODE_NUMBERS))
def test_one_time_payment_with_a_new_card_refuses_unicode_digits(client, admin_user, invoice, spelling):
    client.force_login(admin_user)
    key = review_key(client, invoice)

    response = client.post(
        "/payments/pay/",
        {
            "idempotency_key": key,
            "invoice": invoice.number,
            "method": "new",
            "when": "today",
            "save_to_wallet": "on",
            **card_fields("new-", number=UNICODE_NUMBERS[spelling], cvc=UNICODE_CVCS[spelling]),
        },
    )

    assert response.status_code == 200
    errors = response.context["method_form"].errors
    assert errors["card_number"] == [DIGITS_ONLY]
    assert errors["cvc"] == [CVC_DIGITS_ONLY]
    assert_nothing_written()
    invoice.refresh_from_db()
    assert invoice.amount_paid == 0


@pytest.mark.parametrize("spelling", sorted(UNICODE_NUMBERS))
def test_wallet_add_refuses_unicode_digits(client, admin_user, spelling):
    client.force_login(admin_user)

    response = client.post(
        "/payments/wallet/add/",
        {**card_fields(number=UNICODE_NUMBERS[spelling], cvc=UNICODE_CVCS[spelling]), "nickname": "유니코드"},
    )

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["card_number"] == [DIGITS_ONLY]
    assert errors["cvc"] == [CVC_DIGITS_ONLY]
    assert_nothing_written()


def test_the_simulated_tokenizer_refuses_unicode_digits_itself():
    from payments.gateways import TokenizeError

    for number in UNICODE_NUMBERS.values():
        with pytest.raises(TokenizeError) as refused:
            SimulatedGateway().tokenize_card(number=number, exp_month=12, exp_year=2031, cvc="123", holder_name="")
        assert refused.value.code == "invalid_number"


# --- No error report carries the number or the CVC --------------------------------------------


@pytest.fixture
def captured_exceptions(client):
    """Let the view's exception become a 500 response and keep (request, exc_info) as Django's
    handler saw them, before the test client's own frames are on the stack."""
    seen: list[tuple] = []

    def keep(sender, request=None, **kwargs):
        seen.append((request, sys.exc_info()))

    got_request_exception.connect(keep)
    client.raise_request_exception = False
    yield seen
    got_request_exception.disconnect(keep)


def report_of(seen) -> str:
    assert len(seen) == 1, "the view did not raise"
    request, (exc_type, exc_value, tb) = seen[0]
    reporter = ExceptionReporter(request, exc_type, exc_value, tb)
    return reporter.get_traceback_text() + reporter.get_traceback_html()


def assert_report_is_clean(text: str) -> None:
    assert REPORT_CARD not in text
    assert " ".join([REPORT_CARD[i : i + 4] for i in range(0, 16, 4)]) not in text
    assert re.search(rf"(?<![0-9A-Za-z]){REPORT_CVC}(?![0-9A-Za-z])", text) is None


class UnreachableCardNetwork(SimulatedGateway):
    """A gateway adapter whose network call fails after it was handed the card details."""

    @sensitive_variables("number", "cvc")
    def tokenize_card(self, *, number, exp_month, exp_year, cvc, holder_name, customer=""):
        raise ConnectionError("card network unreachable")


@pytest.fixture
def unreachable_card_network():
    set_gateway_override(UnreachableCardNetwork())
    yield
    set_gateway_override(None)


class UnreachableCustomerAPI(SimulatedGateway):
    """The gateway's customer call (made before the card is tokenized) fails: the view's
    ``tokenize`` still holds the card number and CVC in its variables when the error is raised."""

    def customer_create(self, *, name, company_id):
        raise ConnectionError("gateway customer API unreachable")


def test_an_error_report_from_pay_now_holds_no_card_number_or_cvc(
    client, invoice, captured_exceptions, unreachable_card_network
):
    pay_now_at_details(client)

    response = client.post(PAY_NOW, {"action": "details", **card_fields("pm-", number=REPORT_CARD, cvc=REPORT_CVC)})

    assert response.status_code == 500
    text = report_of(captured_exceptions)
    assert "ConnectionError" in text and "tokenize" in text  # the report is about the gateway call
    assert_report_is_clean(text)


def test_an_error_report_from_the_wallet_holds_no_card_number_or_cvc(client, admin_user, captured_exceptions):
    client.force_login(admin_user)

    set_gateway_override(UnreachableCustomerAPI())
    try:
        response = client.post(
            "/payments/wallet/add/", {**card_fields(number=REPORT_CARD, cvc=REPORT_CVC), "nickname": "보고서"}
        )
    finally:
        set_gateway_override(None)

    assert response.status_code == 500
    text = report_of(captured_exceptions)
    assert "ConnectionError" in text
    assert_report_is_clean(text)
    assert not PaymentMethod.objects.exists()


class BrokenHTTP(FakeStripeHTTP):
    """Stripe's HTTP layer fails with an error the SDK does not wrap."""

    def request(self, method, url, headers, post_data=None):
        raise RuntimeError("TLS stack exploded")


def test_an_error_report_from_a_stripe_payment_holds_no_card_number_or_cvc(
    client, admin_user, invoice, captured_exceptions, settings
):
    # Card fields are never needed with Stripe (Stripe.js sends a pm_ token), but a client may
    # still post them; an HTTP fault inside the Stripe adapter must not put them in the report.
    settings.PAYMENT_GATEWAY = "stripe"
    set_gateway_override(StripeGateway("sk_test_fake", http_client=BrokenHTTP()))
    try:
        client.force_login(admin_user)
        key = review_key(client, invoice)
        response = client.post(
            "/payments/pay/",
            {
                "idempotency_key": key,
                "invoice": invoice.number,
                "method": "new",
                "when": "today",
                "new-gateway_token": "pm_card_visa",
                **card_fields("new-", number=REPORT_CARD, cvc=REPORT_CVC),
            },
        )
    finally:
        set_gateway_override(None)

    assert response.status_code == 500
    text = report_of(captured_exceptions)
    assert "TLS stack exploded" in text
    assert_report_is_clean(text)
    assert not Payment.objects.exists()
