"""Stripe: PaymentIntents with idempotency keys, SetupIntents to save methods, Customers.

Card details are entered in Stripe's hosted fields (Stripe.js Elements) and never reach this
server: the browser sends a PaymentMethod id (``pm_…``) that ``save_method`` attaches to the
company's Customer with a SetupIntent. Amounts go out in minor units per currency (₩13,000 is
``13000``, $12.34 is ``1234``).
"""

from __future__ import annotations

import logging
from decimal import Decimal

import stripe
from django.views.decorators.debug import sensitive_variables

from core.money import to_minor

from .base import ChargeResult, DeclineKind, Gateway, SavedMethod, TokenizeError

logger = logging.getLogger(__name__)

# Declines worth trying again later with the same method; the others need another method.
SOFT_DECLINES = {"insufficient_funds", "processing_error", "try_again_later", "do_not_honor", "generic_decline"}


def _decline_kind(code: str) -> DeclineKind:
    return DeclineKind.SOFT if code in SOFT_DECLINES else DeclineKind.HARD


class StripeGateway(Gateway):
    name = "stripe"

    def __init__(self, api_key: str, *, http_client: stripe.HTTPClient | None = None):
        self.client = stripe.StripeClient(api_key, http_client=http_client, max_network_retries=0)

    # Card numbers never reach the server with Stripe: only tokens from Stripe.js.
    @sensitive_variables("kwargs")
    def tokenize_card(self, **kwargs):
        raise TokenizeError("browser_only", "Card details are entered in Stripe's own fields.")

    @sensitive_variables("kwargs")
    def tokenize_bank_account(self, **kwargs):
        raise TokenizeError("browser_only", "Bank details are entered in Stripe's own fields.")

    def tokenize_online_service(self, **kwargs):
        raise TokenizeError("browser_only", "Online payment services are connected through Stripe.")

    def customer_create(self, *, name, company_id):
        customer = self.client.v1.customers.create(
            params={"name": name, "metadata": {"company_id": str(company_id)}},
            options={"idempotency_key": f"customer-{company_id}"},
        )
        return customer.id

    def save_method(self, *, token, customer):
        try:
            intent = self.client.v1.setup_intents.create(
                params={
                    "customer": customer,
                    "payment_method": token,
                    "confirm": True,
                    "usage": "off_session",
                    "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
                },
                options={"idempotency_key": f"setup-{token}"},
            )
        except stripe.CardError as exc:
            raise TokenizeError(exc.code or "card_declined", exc.user_message or "") from None
        method = self.client.v1.payment_methods.retrieve(intent.payment_method)
        card = getattr(method, "card", None)
        if card is not None:
            return SavedMethod(
                token=method.id,
                brand=(card.brand or "").title(),
                last4=card.last4 or "",
                exp_month=card.exp_month,
                exp_year=card.exp_year,
            )
        bank = getattr(method, "us_bank_account", None)
        if bank is not None:
            return SavedMethod(token=method.id, brand=bank.bank_name or "", last4=bank.last4 or "")
        return SavedMethod(token=method.id, brand=method.type)

    def charge(self, *, token, amount: Decimal, currency, idempotency_key, description="", customer="", metadata=None):
        params = {
            "amount": to_minor(amount, currency),
            "currency": currency.lower(),
            "payment_method": token,
            "confirm": True,
            "description": description,
            "metadata": metadata or {},
            "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
        }
        if customer:
            params["customer"] = customer
        try:
            intent = self.client.v1.payment_intents.create(params=params, options={"idempotency_key": idempotency_key})
        except stripe.CardError as exc:
            code = exc.code or "card_declined"
            if code == "card_declined" and getattr(exc, "error", None) is not None:
                code = getattr(exc.error, "decline_code", None) or code
            intent = getattr(getattr(exc, "error", None), "payment_intent", None)
            return ChargeResult.declined(code, _decline_kind(code), getattr(intent, "id", "") or "")
        except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
            # Sent but no reliable answer: the outcome is unknown until Stripe is asked again.
            logger.warning("Stripe charge outcome unknown for %s: %s", idempotency_key, type(exc).__name__)
            return ChargeResult.unknown()
        return self._intent_result(intent)

    def retrieve(self, *, idempotency_key, reference=""):
        if reference:
            intent = self.client.v1.payment_intents.retrieve(reference)
            return self._intent_result(intent)
        found = self.client.v1.payment_intents.search(
            params={"query": f"metadata['idempotency_key']:'{idempotency_key}'"}
        )
        if not found.data:
            return ChargeResult.not_found()
        return self._intent_result(found.data[0])

    @staticmethod
    def _intent_result(intent) -> ChargeResult:
        status = intent.status
        if status == "succeeded":
            return ChargeResult.succeeded(intent.id)
        if status in {"requires_payment_method", "canceled"}:
            error = getattr(intent, "last_payment_error", None)
            code = (
                (getattr(error, "decline_code", None) or getattr(error, "code", None) or "card_declined")
                if error
                else "canceled"
            )
            return ChargeResult.declined(code, _decline_kind(code), intent.id)
        return ChargeResult.unknown(intent.id)  # processing, requires_action: wait for the webhook
