"""One payment attempt, named by its idempotency key: its key, what it wrote, and the claim that
lets one request at a time work on it.

The key is chosen when the review page is rendered (``idempotency_key_new``) and is unique in the
database once written: a double click, a second tab or a replayed POST finds the attempt's
payments (``attempt_exists``, ``attempt_replay``) instead of making others. While a request works on a
confirmed form it holds the attempt's claim (``attempt_claim``); a concurrent duplicate is sent to
the attempt's page, which shows it in progress until it is done.
"""

from __future__ import annotations

import datetime
import secrets
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import CreditApplication, Payment, PaymentAttemptClaim


def idempotency_key_new() -> str:
    """One per payment attempt, put in the review form when it is rendered."""
    return secrets.token_urlsafe(24)


def payments_for_attempt(idempotency_key: str):
    return Payment.objects.filter(idempotency_key__startswith=f"{idempotency_key}:").order_by("currency")


@dataclass
class PaymentOutcome:
    payments: list[Payment] = field(default_factory=list)
    replayed: bool = False
    credits: list[CreditApplication] = field(default_factory=list)


def credits_for_attempt(idempotency_key: str):
    return CreditApplication.objects.filter(idempotency_key=idempotency_key).order_by("id")


def attempt_exists(idempotency_key: str) -> bool:
    return bool(idempotency_key) and (
        payments_for_attempt(idempotency_key).exists() or credits_for_attempt(idempotency_key).exists()
    )


# A claim older than this is from a request that died (longer than any gateway call takes).
ATTEMPT_CLAIM_TTL = datetime.timedelta(minutes=2)


def attempt_claim(*, idempotency_key: str, user) -> bool:
    """Start working on a confirmed pay form: True for the one request that may, False for a duplicate.

    A row with the key, unique in the database (``PaymentAttemptClaim``), committed at once so a
    concurrent request with the same key sees it. Release it with ``attempt_release``.
    """
    PaymentAttemptClaim.objects.filter(
        idempotency_key=idempotency_key, created_at__lt=timezone.now() - ATTEMPT_CLAIM_TTL
    ).delete()
    try:
        with transaction.atomic():
            PaymentAttemptClaim.objects.create(idempotency_key=idempotency_key, user=user)
    except IntegrityError:
        return False
    return True


def attempt_release(*, idempotency_key: str) -> None:
    PaymentAttemptClaim.objects.filter(idempotency_key=idempotency_key).delete()


def attempt_in_progress(*, idempotency_key: str, user) -> bool:
    """True while the user's request with this key is still working on it (nothing written yet)."""
    return PaymentAttemptClaim.objects.filter(
        idempotency_key=idempotency_key, user=user, created_at__gte=timezone.now() - ATTEMPT_CLAIM_TTL
    ).exists()


def attempt_replay(idempotency_key: str) -> PaymentOutcome | None:
    payments = list(payments_for_attempt(idempotency_key))
    credits = list(credits_for_attempt(idempotency_key))
    if payments or credits:
        return PaymentOutcome(payments=payments, credits=credits, replayed=True)
    return None


def attempts_replay(keys_and_currencies: dict[str, set[str]]) -> dict[str, PaymentOutcome]:
    """``attempt_replay`` of many attempts in two queries; a payment's key is ``<attempt key>:<currency>``."""
    payment_keys = [f"{key}:{currency}" for key, currencies in keys_and_currencies.items() for currency in currencies]
    found: dict[str, PaymentOutcome] = {}
    for payment in Payment.objects.filter(idempotency_key__in=payment_keys).order_by("currency"):
        key = payment.idempotency_key.rsplit(":", 1)[0]
        found.setdefault(key, PaymentOutcome(replayed=True)).payments.append(payment)
    for credit in CreditApplication.objects.filter(idempotency_key__in=list(keys_and_currencies)).order_by("id"):
        found.setdefault(credit.idempotency_key, PaymentOutcome(replayed=True)).credits.append(credit)
    return found
