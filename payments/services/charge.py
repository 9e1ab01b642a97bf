"""Where a payment meets the gateway: what pays (``PaymentSource``) and the one call that charges.

``payment_charge`` is called only after the payment was committed as *processing* (step 3 of
``payments.services.checkout``): it marks the payment sent in one conditional UPDATE and asks the
gateway; any failure after that is an unknown outcome, settled later by asking the gateway
(``payment_reconcile``), never by charging again. No row lock is held while the gateway answers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.utils import timezone

from ..gateways import ChargeResult, DeclineKind, get_gateway
from ..models import GatewayCustomer, Payment, PaymentMethod, PaymentStatus

logger = logging.getLogger(__name__)


@dataclass
class PaymentSource:
    """What pays: a wallet entry, or a token used once (Pay Now, or a new method not saved)."""

    kind: str
    token: str
    label: str
    method: PaymentMethod | None = None
    gateway: str = ""
    customer: str = ""

    @classmethod
    def from_method(cls, method: PaymentMethod) -> PaymentSource:
        customer = (
            GatewayCustomer.objects.filter(company_id=method.company_id, gateway=method.gateway)
            .values_list("customer_id", flat=True)
            .first()
        )
        return cls(
            kind=method.kind,
            token=method.gateway_token,
            label=str(method)[:80],
            method=method,
            gateway=method.gateway,
            customer=customer or "",
        )


def payment_charge(payment: Payment, source: PaymentSource) -> ChargeResult:
    """Ask the gateway to charge a payment committed as processing; any failure is an unknown outcome.

    The payment is first marked sent, in one conditional UPDATE, only while it is processing and
    unsent. Reconciliation fails a payment as never sent only under its row lock and only while
    it is unsent, so the two exclude each other: a payment failed as never sent is not charged
    afterwards (the answer is then "unknown", and ``payments_settle`` leaves a settled payment
    alone), and a payment marked sent is never failed as unsent while its charge is under way.
    """
    sent_at = timezone.now()
    marked = Payment.objects.filter(pk=payment.pk, status=PaymentStatus.PROCESSING, sent_at__isnull=True).update(
        sent_at=sent_at
    )
    if not marked:
        logger.warning("Payment %s was not charged: no longer processing, or already sent", payment.reference)
        return ChargeResult.unknown()
    payment.sent_at = sent_at
    gateway = get_gateway(payment.gateway)
    try:
        return gateway.charge(
            token=source.token,
            amount=payment.amount,
            currency=payment.currency,
            idempotency_key=payment.idempotency_key,
            description=f"Billing Centre {payment.reference}",
            customer=source.customer,
            metadata={"payment_reference": payment.reference, "idempotency_key": payment.idempotency_key},
        )
    except Exception:  # noqa: BLE001 - any failure after sending leaves the outcome unknown
        logger.exception("Gateway charge failed for payment %s; left processing", payment.reference)
        return ChargeResult.unknown()


# Answers ``payments_settle`` applies for a charge the caller decided not to send (nothing was charged).
NOT_SENT = ChargeResult.declined("not_sent", DeclineKind.SOFT)
