"""The one interface every payment gateway backend implements.

Amounts cross this interface as ``Decimal`` plus an ISO 4217 currency; only an adapter converts
them to the integer minor units its gateway wants (``core.money.to_minor``). Results are
typed: a charge either succeeded, was declined (with a code, soft or hard), or its outcome is
unknown (a timeout) — an unknown outcome is reconciled with ``retrieve``, never retried blindly.
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass, field
from decimal import Decimal


class Outcome(enum.StrEnum):
    SUCCEEDED = "succeeded"
    DECLINED = "declined"
    UNKNOWN = "unknown"  # sent, no answer: ask the gateway later
    NOT_FOUND = "not_found"  # retrieve only: the gateway never received the charge


class DeclineKind(enum.StrEnum):
    SOFT = "soft"  # may succeed later (insufficient funds, processing error)
    HARD = "hard"  # will not succeed with this method (expired, stolen, closed)


@dataclass(frozen=True)
class ChargeResult:
    outcome: Outcome
    reference: str = ""
    decline_code: str = ""
    decline_kind: DeclineKind | None = None

    @classmethod
    def succeeded(cls, reference: str) -> ChargeResult:
        return cls(Outcome.SUCCEEDED, reference=reference)

    @classmethod
    def declined(cls, code: str, kind: DeclineKind, reference: str = "") -> ChargeResult:
        return cls(Outcome.DECLINED, reference=reference, decline_code=code, decline_kind=kind)

    @classmethod
    def unknown(cls, reference: str = "") -> ChargeResult:
        return cls(Outcome.UNKNOWN, reference=reference)

    @classmethod
    def not_found(cls) -> ChargeResult:
        return cls(Outcome.NOT_FOUND)


@dataclass(frozen=True)
class SavedMethod:
    """What the wallet may keep: a token and display facts, never a card number or CVC."""

    token: str
    brand: str = ""
    last4: str = ""
    exp_month: int | None = None
    exp_year: int | None = None
    holder_name: str = ""
    extra: dict = field(default_factory=dict)


class TokenizeError(Exception):
    """The details were refused by the gateway (bad number, bank account closed…)."""

    def __init__(self, code: str, message: str = ""):
        super().__init__(message or code)
        self.code = code


class Gateway(abc.ABC):
    name: str = ""

    @abc.abstractmethod
    def tokenize_card(
        self, *, number: str, exp_month: int, exp_year: int, cvc: str, holder_name: str, customer: str = ""
    ) -> SavedMethod:
        """Exchange card details for a token (the simulated backend; Stripe tokenises in the browser)."""

    @abc.abstractmethod
    def tokenize_bank_account(
        self, *, account_number: str, bank_code: str, holder_name: str, customer: str = ""
    ) -> SavedMethod: ...

    @abc.abstractmethod
    def tokenize_online_service(self, *, service: str, login: str, customer: str = "") -> SavedMethod: ...

    @abc.abstractmethod
    def save_method(self, *, token: str, customer: str) -> SavedMethod:
        """Attach a browser-created token to the customer for later use (Stripe SetupIntent)."""

    @abc.abstractmethod
    def customer_create(self, *, name: str, company_id: int) -> str: ...

    @abc.abstractmethod
    def charge(
        self,
        *,
        token: str,
        amount: Decimal,
        currency: str,
        idempotency_key: str,
        description: str = "",
        customer: str = "",
        metadata: dict | None = None,
    ) -> ChargeResult: ...

    @abc.abstractmethod
    def retrieve(self, *, idempotency_key: str, reference: str = "") -> ChargeResult:
        """The real outcome of an earlier charge (reconciliation)."""
