"""The offline gateway: deterministic test numbers, no network (the default backend).

Card numbers are modelled on the well-known gateway test cards. The number is looked at once,
inside ``tokenize_card``, to pick the scenario and the display facts; what leaves this module is a
random token that names the scenario, the brand, the last four digits and the expiry.

=====================  ==========================================================
4242 4242 4242 4242    succeeds (Visa)
5555 5555 5555 4444    succeeds (Mastercard)
4000 0000 0000 9995    declined: insufficient funds (soft)
4000 0000 0000 0069    declined: expired card (hard)
4000 0000 0000 0119    declined: processing error (soft)
4000 0000 0000 0002    declined: card declined (hard)
4000 0000 0000 7726    times out: the outcome is unknown; ``retrieve`` later says succeeded
=====================  ==========================================================

``settings.SIMULATED_GATEWAY_LATENCY`` (env ``SIMULATED_GATEWAY_LATENCY``, seconds, default 0) makes
each charge answer that much later, after the charge is recorded, as a slow gateway would: the
fault tests use it to stop a worker in the middle of an AutoPay batch.

Bank accounts: ``000123456789`` succeeds, ``000111111116`` is declined for insufficient funds;
any other number of 6–16 digits succeeds. Online payment services always succeed, except a login
that contains ``decline``.
"""

from __future__ import annotations

import secrets
import time
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.views.decorators.debug import sensitive_variables

from core.luhn import luhn_valid
from core.money import to_minor

from .base import ChargeResult, DeclineKind, Gateway, Outcome, SavedMethod, TokenizeError

SUCCESS = "ok"
TIMEOUT_CARD = "4000000000007726"

CARD_SCENARIOS: dict[str, str] = {
    "4000000000009995": "insufficient_funds",
    "4000000000000069": "expired_card",
    "4000000000000119": "processing_error",
    "4000000000000002": "card_declined",
    TIMEOUT_CARD: "timeout",
}
BANK_SCENARIOS: dict[str, str] = {"000111111116": "insufficient_funds"}

DECLINES: dict[str, DeclineKind] = {
    "insufficient_funds": DeclineKind.SOFT,
    "processing_error": DeclineKind.SOFT,
    "expired_card": DeclineKind.HARD,
    "card_declined": DeclineKind.HARD,
}


@sensitive_variables("number")
def card_brand(number: str) -> str:
    if number.startswith("4"):
        return "Visa"
    if number[:2] in {"51", "52", "53", "54", "55"} or "2221" <= number[:4] <= "2720":
        return "Mastercard"
    if number[:2] in {"34", "37"}:
        return "American Express"
    if number.startswith("35"):
        return "JCB"
    return "Card"


def _token(scenario: str) -> str:
    return f"simtok_{scenario}_{secrets.token_hex(8)}"


def _scenario(token: str) -> str:
    parts = token.split("_")
    if len(parts) < 3 or parts[0] != "simtok":
        return "invalid"
    return "_".join(parts[1:-1])


class SimulatedGateway(Gateway):
    name = "simulated"

    @sensitive_variables("number", "cvc", "digits")
    def tokenize_card(self, *, number, exp_month, exp_year, cvc, holder_name, customer=""):
        digits = "".join(ch for ch in number if not ch.isspace() and ch != "-")
        # 0-9 only: "²", full-width and Arabic-Indic digits pass isdigit() but are no card number.
        if not (digits.isascii() and digits.isdigit()) or not (12 <= len(digits) <= 19) or not luhn_valid(digits):
            raise TokenizeError("invalid_number")
        if not (cvc.isascii() and cvc.isdigit() and len(cvc) in (3, 4)):
            raise TokenizeError("invalid_cvc")
        scenario = CARD_SCENARIOS.get(digits, SUCCESS)
        return SavedMethod(
            token=_token(scenario),
            brand=card_brand(digits),
            last4=digits[-4:],
            exp_month=exp_month,
            exp_year=exp_year,
            holder_name=holder_name,
        )

    @sensitive_variables("account_number", "digits")
    def tokenize_bank_account(self, *, account_number, bank_code, holder_name, customer=""):
        digits = "".join(ch for ch in account_number if not ch.isspace() and ch != "-")
        if not (digits.isascii() and digits.isdigit()) or not 6 <= len(digits) <= 16:
            raise TokenizeError("invalid_account")
        scenario = BANK_SCENARIOS.get(digits, SUCCESS)
        return SavedMethod(token=_token(scenario), brand=bank_code, last4=digits[-4:], holder_name=holder_name)

    def tokenize_online_service(self, *, service, login, customer=""):
        scenario = "card_declined" if "decline" in login.lower() else SUCCESS
        return SavedMethod(token=_token(scenario), brand=service, holder_name=login)

    def save_method(self, *, token, customer):
        return SavedMethod(token=token)

    def customer_create(self, *, name, company_id):
        return f"simcus_{company_id}"

    def charge(self, *, token, amount: Decimal, currency, idempotency_key, description="", customer="", metadata=None):
        from payments.models import SimulatedCharge

        existing = SimulatedCharge.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:  # a replay gets the first answer, as a real gateway's would
            return self._result(existing)
        scenario = _scenario(token)
        if scenario == "invalid":
            return ChargeResult.declined("invalid_token", DeclineKind.HARD)
        outcome = "declined" if scenario in DECLINES else "succeeded"
        try:
            with transaction.atomic():
                record = SimulatedCharge.objects.create(
                    idempotency_key=idempotency_key,
                    reference=f"sim_{secrets.token_hex(10)}",
                    token=token,
                    amount_minor=to_minor(amount, currency),
                    currency=currency,
                    outcome=outcome,
                    decline_code=scenario if outcome == "declined" else "",
                )
        except IntegrityError:  # the same key from another process at the same moment
            return self._result(SimulatedCharge.objects.get(idempotency_key=idempotency_key))
        latency = getattr(settings, "SIMULATED_GATEWAY_LATENCY", 0)
        if latency:  # the "bank" has taken the charge; its answer takes this long to come back
            time.sleep(latency)
        if scenario == "timeout":
            # The charge went through at the "bank", but the answer never arrived.
            return ChargeResult.unknown()
        return self._result(record)

    def retrieve(self, *, idempotency_key, reference=""):
        from payments.models import SimulatedCharge

        record = SimulatedCharge.objects.filter(idempotency_key=idempotency_key).first()
        if record is None:
            return ChargeResult.not_found()
        return self._result(record)

    @staticmethod
    def _result(record) -> ChargeResult:
        if record.outcome == Outcome.SUCCEEDED:
            return ChargeResult.succeeded(record.reference)
        return ChargeResult.declined(
            record.decline_code, DECLINES.get(record.decline_code, DeclineKind.HARD), record.reference
        )
