"""The one-time payment (R5, R20) confirmed on the review page: one service for the whole submit.

The review (``payments.selectors.pay_review``) says what may be paid and with which methods;
``payment_submit`` takes the person's choice from it and pays. One request at a time works on an
attempt: the attempt's claim (a row with its idempotency key, unique in the database) is taken
first, and a second request with the same key (a double click, a second tab) is told
``AttemptTaken`` at once — its page shows the attempt in progress, then its result. Nobody waits.
"""

from __future__ import annotations

import datetime

from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from core.exceptions import ApplicationError

from .attempts import PaymentOutcome, attempt_claim, attempt_exists, attempt_release
from .charge import PaymentSource
from .checkout import payment_create
from .wallet import DetailsRefused, method_tokenize, one_time_label, payment_method_add


class AttemptTaken(Exception):
    """The attempt is already in progress in another request, or done: show its page."""


@sensitive_variables("details")
def payment_submit(
    *,
    actor,
    review,
    idempotency_key: str,
    method_id: str | None,
    details: dict | None = None,
    stripe_mode: bool = False,
    save_to_wallet: bool = False,
    scheduled_for: datetime.date | None = None,
    ip_address: str | None = None,
) -> PaymentOutcome:
    """Pay the review's payable invoices with a wallet method (``method_id``) or new details.

    ``details`` are the new method's cleaned form data (``method_id`` None); they are tokenized
    by the gateway and, with ``save_to_wallet`` when the person may, kept in the wallet. Raises
    ``AttemptTaken`` when another request has the attempt, ``DetailsRefused`` when the new
    method's details were refused, ``ApplicationError`` when the payment was refused.
    """
    if not attempt_claim(idempotency_key=idempotency_key, user=actor):
        raise AttemptTaken(idempotency_key)
    try:
        if attempt_exists(idempotency_key):
            raise AttemptTaken(idempotency_key)  # finished while this request was validating
        company = review.company
        if company is None:
            raise ApplicationError(_("Pay the invoices of one company at a time."), code="mixed_companies")
        if method_id is None:
            source = _new_method_source(
                actor=actor,
                company=company,
                details=details,
                stripe_mode=stripe_mode,
                save=save_to_wallet and review.may_save,
            )
        else:
            method = next((m for m in review.methods if str(m.id) == str(method_id)), None)
            if method is None:
                raise ApplicationError(_("Choose a payment method."), field="method")
            source = PaymentSource.from_method(method)
        return payment_create(
            actor=actor,
            company=company,
            invoice_ids=[c.invoice.id for c in review.payable],
            source=source,
            idempotency_key=idempotency_key,
            scheduled_for=scheduled_for,
            payer_email=actor.email,
            ip_address=ip_address,
        )
    finally:
        attempt_release(idempotency_key=idempotency_key)


@sensitive_variables("details")
def _new_method_source(*, actor, company, details: dict, stripe_mode: bool, save: bool) -> PaymentSource:
    kind = details["kind"]
    saved = method_tokenize(details=details, stripe_mode=stripe_mode, company=company)
    if not save:
        return PaymentSource(kind=kind, token=saved.token, label=one_time_label(kind, saved))
    try:
        method = payment_method_add(actor=actor, company=company, kind=kind, saved=saved)
    except ApplicationError as exc:
        raise DetailsRefused(exc.message, field=exc.field, code=exc.code) from None
    return PaymentSource.from_method(method)
