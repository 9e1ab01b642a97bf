"""Writes for payments, one module per family of use cases.

- ``checks``: what can be paid and why not (country rules, temporary numbers, payments in flight);
- ``attempts``: an attempt's idempotency key, its replay and its claim;
- ``checkout``: paying invoices (``payment_create``, ``payments_open``), credits first (``credits``);
- ``charge``: what pays (``PaymentSource``) and the one gateway call (``payment_charge``);
- ``settlement``: the gateway's answers applied, scheduled payments, reconciliation;
- ``status``: the payment transition table, applied through ``core.transitions``;
- ``pay``: the review page's submit (``payment_submit``);
- ``pay_now``: the Pay Now lookup and its rate limits;
- ``wallet``: payment methods, tokenization, the card for shipping charges;
- ``receipt_delivery``: receipts, sent once (``core.mail.email_send_now`` beside their marker).

Stripe webhooks, which settle through ``payment_settle``, live in ``payments/webhooks.py``; AutoPay
in ``payments/autopay/``. Code inside the app imports from the family module; this package only
re-exports the public names other apps, commands and tests use.
"""

from .attempts import (
    ATTEMPT_CLAIM_TTL,
    PaymentOutcome,
    attempt_claim,
    attempt_exists,
    attempt_in_progress,
    attempt_release,
    credits_for_attempt,
    idempotency_key_new,
    payments_for_attempt,
)
from .charge import NOT_SENT, PaymentSource, payment_charge
from .checkout import PaymentRequest, payment_create, payments_open
from .checks import (
    IN_FLIGHT,
    InvoiceCheck,
    Reason,
    decline_message,
    invoice_checks,
    kind_allowed,
    online_services_for_country,
    payment_kinds_for_country,
    reserved_amounts,
    totals_by_currency,
)
from .pay import AttemptTaken, payment_submit
from .pay_now import PAY_NOW_LIMIT_PER_ACCOUNT, PAY_NOW_LIMIT_PER_IP, PayNowRefusal, pay_now_lookup
from .receipt_delivery import (
    RECEIPT_REQUEUE_AFTER,
    payment_receipt_deliver,
    payment_receipt_send,
    payment_receipts_requeue,
)
from .settlement import payment_cancel, payment_reconcile, payment_scheduled_run, payment_settle, payments_settle
from .status import payment_transition
from .wallet import (
    DetailsRefused,
    autopay_using,
    gateway_customer_get_or_create,
    method_tokenize,
    payment_method_add,
    payment_method_delete,
    payment_method_save,
    payment_method_set_default,
    payment_method_update,
    payment_option_set,
)

__all__ = [
    "ATTEMPT_CLAIM_TTL",
    "IN_FLIGHT",
    "NOT_SENT",
    "PAY_NOW_LIMIT_PER_ACCOUNT",
    "PAY_NOW_LIMIT_PER_IP",
    "RECEIPT_REQUEUE_AFTER",
    "AttemptTaken",
    "DetailsRefused",
    "InvoiceCheck",
    "PayNowRefusal",
    "PaymentOutcome",
    "PaymentRequest",
    "PaymentSource",
    "Reason",
    "attempt_claim",
    "attempt_exists",
    "attempt_in_progress",
    "attempt_release",
    "autopay_using",
    "credits_for_attempt",
    "decline_message",
    "gateway_customer_get_or_create",
    "idempotency_key_new",
    "invoice_checks",
    "kind_allowed",
    "method_tokenize",
    "online_services_for_country",
    "pay_now_lookup",
    "payment_cancel",
    "payment_charge",
    "payment_create",
    "payment_kinds_for_country",
    "payment_method_add",
    "payment_method_delete",
    "payment_method_save",
    "payment_method_set_default",
    "payment_method_update",
    "payment_option_set",
    "payment_receipt_deliver",
    "payment_receipt_send",
    "payment_receipts_requeue",
    "payment_reconcile",
    "payment_scheduled_run",
    "payment_settle",
    "payment_submit",
    "payment_transition",
    "payments_for_attempt",
    "payments_open",
    "payments_settle",
    "reserved_amounts",
    "totals_by_currency",
]
