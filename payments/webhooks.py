"""Stripe webhooks: verify, store once by event id, check against the payment, then settle.

A delivery is refused (400, nothing stored) unless its signature verifies, its timestamp is
within ``TOLERANCE`` of now on BOTH sides (Stripe's SDK only refuses stale ones), and its body is
an event of the expected shape. A stored event is processed once; a redelivery is a no-op.

A signed event is still only a claim about a PaymentIntent. Before a success (or a failure) is
applied, the intent must be the payment's own (its id, our gateway, our idempotency key), for the
payment's amount in minor units and its currency, and a success must find the payment still
processing. Anything else moves no money: a ``WebhookAnomaly`` keeps the raw event for billing
staff, an audit event records it, and the staff who handle payments are e-mailed after commit.
"""

from __future__ import annotations

import json
import logging
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.audit import audit_record
from core.mail import email_render, email_send_now
from core.money import to_minor

from .gateways import ChargeResult
from .models import Payment, PaymentStatus, WebhookAnomaly, WebhookEvent
from .services.settlement import payment_settle

logger = logging.getLogger(__name__)

# Seconds a signature's timestamp may differ from our clock, in the past or in the future.
TOLERANCE = 300
HANDLED_EVENTS = ("payment_intent.succeeded", "payment_intent.payment_failed")
# Who is e-mailed about an anomaly: active staff with this permission (or superusers); else ADMINS.
ANOMALY_PERMISSION = "payments.change_webhookanomaly"
Reason = WebhookAnomaly.Reason


class WebhookRejected(Exception):
    """The body or its signature could not be verified: answer 400, store nothing."""


# --- Receiving ---------------------------------------------------------------------------------


def _signature_timestamp(header: str) -> int:
    """The ``t=`` of a ``Stripe-Signature`` header (the first one, as Stripe's SDK reads it)."""
    for item in header.split(","):
        key, _sep, value = item.strip().partition("=")
        if key == "t":
            try:
                return int(value)
            except ValueError:
                break
    raise WebhookRejected("no timestamp in the signature header")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _event_parse(payload: bytes) -> dict:
    """The event as a dict, or ``WebhookRejected`` when it is not one of the shape we read."""
    try:
        body = json.loads(payload)
    except (ValueError, RecursionError):
        raise WebhookRejected("the body is not JSON") from None
    if not isinstance(body, dict):
        raise WebhookRejected("the body is not an event object")
    for key in ("id", "type"):
        if not isinstance(body.get(key), str) or not 0 < len(body[key]) <= 100:
            raise WebhookRejected(f"the event has no valid {key!r}")
    data = body.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise WebhookRejected("the event has no data.object")
    if body["type"] in HANDLED_EVENTS:
        intent = data["object"]
        if not isinstance(intent.get("id"), str) or not intent["id"]:
            raise WebhookRejected("the PaymentIntent has no id")
        if not _is_int(intent.get("amount")) or not isinstance(intent.get("currency"), str):
            raise WebhookRejected("the PaymentIntent has no amount or currency")
        if intent.get("amount_received") is not None and not _is_int(intent["amount_received"]):
            raise WebhookRejected("the PaymentIntent's amount_received is not an integer")
        metadata = intent.get("metadata")
        if metadata is not None and not (
            isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())
        ):
            raise WebhookRejected("the PaymentIntent's metadata is not an object of strings")
        error = intent.get("last_payment_error")
        if error is not None and not isinstance(error, dict):
            raise WebhookRejected("the PaymentIntent's last_payment_error is not an object")
    return body


def webhook_receive(*, payload: bytes, signature: str) -> tuple[WebhookEvent, bool]:
    """Verify a Stripe delivery, store it once by event id and process it; (event, processed_now)."""
    import stripe

    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise WebhookRejected("no webhook secret configured")
    try:
        # Checks the signature and refuses a timestamp older than the tolerance.
        stripe.WebhookSignature.verify_header(payload, signature, secret, tolerance=TOLERANCE)
    except (stripe.SignatureVerificationError, UnicodeDecodeError) as exc:
        raise WebhookRejected(str(exc)) from None
    # ... but not one from the future: a signed body captured with a forged clock would otherwise
    # stay replayable until that time.
    if _signature_timestamp(signature) > time.time() + TOLERANCE:
        raise WebhookRejected("timestamp in the future")
    body = _event_parse(payload)
    try:
        with transaction.atomic():
            stored = WebhookEvent.objects.create(event_id=body["id"], type=body["type"], payload=body)
    except IntegrityError:
        return WebhookEvent.objects.get(event_id=body["id"]), False
    webhook_process(event=stored)
    return stored, True


# --- Processing --------------------------------------------------------------------------------


def webhook_process(*, event: WebhookEvent, actor=None) -> WebhookEvent:
    """Settle the payment an event is about, or record why not; errors are kept for staff to replay."""
    error = ""
    try:
        if event.type in HANDLED_EVENTS:
            error = _intent_event_apply(event=event, actor=actor)
            if error:
                logger.warning("Webhook %s not applied: %s", event.event_id, error)
    except Exception as exc:  # noqa: BLE001 - recorded for staff, never a 500 to the gateway
        logger.warning("Webhook %s failed: %s", event.event_id, exc)
        error = f"{type(exc).__name__}: {exc}"
    event.error = error
    event.processed_at = None if error else timezone.now()
    event.save(update_fields=["error", "processed_at"])
    return event


def _intent_event_apply(*, event: WebhookEvent, actor) -> str:
    """Apply a PaymentIntent event to its payment; the reason it was not applied, or ''."""
    intent = event.payload["data"]["object"]
    intent_id = intent["id"]
    succeeded = event.type == "payment_intent.succeeded"
    reference = (intent.get("metadata") or {}).get("payment_reference", "")
    with transaction.atomic():
        # The payment row is locked first (payment_settle then locks its invoices), so its status
        # cannot change between the checks and the settlement.
        found = Payment.objects.select_for_update().filter(
            **({"reference": reference} if reference else {"gateway_reference": intent_id})
        )
        payment = found.first()
        if payment is None:
            if succeeded:  # money taken for nothing we know: staff must find it or refund it
                _anomalies_record(
                    event=event,
                    payment=None,
                    problems=[(Reason.UNKNOWN_PAYMENT, {"event_intent": intent_id, "reference": reference})],
                    actor=actor,
                )
            return f"LookupError: no payment for PaymentIntent {intent_id}"
        problems = _intent_problems(intent=intent, payment=payment, succeeded=succeeded, by_reference=bool(reference))
        if problems:
            _anomalies_record(event=event, payment=payment, problems=problems, actor=actor)
            return "WebhookAnomaly: " + ", ".join(str(reason) for reason, _detail in problems)
        if succeeded:
            result = ChargeResult.succeeded(intent_id)
        else:
            from .gateways.stripe_backend import _decline_kind

            last_error = intent.get("last_payment_error") or {}
            code = str(last_error.get("decline_code") or last_error.get("code") or "card_declined")
            result = ChargeResult.declined(code, _decline_kind(code), intent_id)
        payment_settle(payment_id=payment.id, result=result, actor=actor, source=f"webhook:{event.event_id}")
    return ""


def _intent_problems(*, intent: dict, payment: Payment, succeeded: bool, by_reference: bool) -> list[tuple[str, dict]]:
    """What does not fit between a PaymentIntent event and the payment it names (empty: all fits)."""
    intent_id = intent["id"]
    facts = {
        "event_intent": intent_id,
        "payment_intent": payment.gateway_reference,
        "event_amount": intent["amount"],
        "event_amount_received": intent.get("amount_received"),
        "payment_amount": to_minor(payment.amount, payment.currency),
        "event_currency": intent["currency"].upper(),
        "payment_currency": payment.currency,
        "payment_status": payment.status,
        "payment_gateway": payment.gateway,
    }
    problems: list[tuple[str, dict]] = []
    metadata_key = (intent.get("metadata") or {}).get("idempotency_key")
    other_intent = bool(payment.gateway_reference) and payment.gateway_reference != intent_id
    if (
        other_intent
        or payment.gateway != "stripe"
        or (metadata_key is not None and metadata_key != payment.idempotency_key)
        or (
            by_reference
            and not payment.gateway_reference
            and Payment.objects.filter(gateway_reference=intent_id).exclude(pk=payment.pk).exists()
        )
    ):
        problems.append((Reason.INTENT_MISMATCH, facts))
    if facts["event_currency"] != payment.currency:
        problems.append((Reason.CURRENCY_MISMATCH, facts))
    received = intent.get("amount_received")
    if intent["amount"] != facts["payment_amount"] or (
        succeeded and received is not None and received != facts["payment_amount"]
    ):
        problems.append((Reason.AMOUNT_MISMATCH, facts))
    if succeeded:
        if payment.status == PaymentStatus.FAILED:
            problems.append((Reason.PAYMENT_FAILED, facts))
        elif payment.status in (PaymentStatus.PENDING, PaymentStatus.SCHEDULED, PaymentStatus.CANCELLED):
            problems.append((Reason.PAYMENT_NOT_SENT, facts))
    return problems


def _anomalies_record(*, event: WebhookEvent, payment: Payment | None, problems, actor) -> list[WebhookAnomaly]:
    """One row and one audit event per reason (a replay or redelivery adds none); staff e-mailed on commit."""
    created = []
    for reason, detail in problems:
        anomaly, new = WebhookAnomaly.objects.get_or_create(
            event=event, reason=reason, defaults={"payment": payment, "detail": detail}
        )
        if not new:
            continue
        created.append(anomaly)
        audit_record(
            action="webhook.anomaly",
            actor=actor,
            company=payment.company if payment is not None else None,
            target=anomaly,
            data={
                "event_id": event.event_id,
                "type": event.type,
                "reason": str(reason),
                "payment": payment.reference if payment is not None else "",
                **{key: value for key, value in detail.items() if value is not None},
            },
        )
    if created:
        ids = [anomaly.pk for anomaly in created]
        transaction.on_commit(lambda: webhook_anomaly_alert(anomaly_ids=ids), robust=True)
    return created


def webhook_anomaly_recipients() -> list[str]:
    """The staff who handle payments (active, staff, with the anomaly permission); else ADMINS."""
    users = (
        get_user_model()
        .objects.with_perm(
            ANOMALY_PERMISSION,
            is_active=True,
            include_superusers=True,
            backend="django.contrib.auth.backends.ModelBackend",
        )
        .filter(is_staff=True)
        .exclude(email="")
    )
    emails = sorted({user.email for user in users})
    return emails or [address for _name, address in settings.ADMINS]


def webhook_anomaly_alert(*, anomaly_ids: list[int]) -> bool:
    """E-mail the staff about anomalies of one event (after commit, through the outbox) and mark them
    alerted; a mail outage raises (logged by the robust on-commit hook) and marks nothing."""
    anomalies = list(
        WebhookAnomaly.objects.filter(pk__in=anomaly_ids).select_related("event", "payment").order_by("id")
    )
    recipients = webhook_anomaly_recipients()
    if not anomalies or not recipients:
        logger.error("Webhook anomalies %s: nobody to alert (no payments staff, no ADMINS)", anomaly_ids)
        return False
    from django.urls import reverse

    context = {
        "anomalies": anomalies,
        "event": anomalies[0].event,
        "payment": anomalies[0].payment,
        "admin_url": settings.SITE_URL.rstrip("/") + reverse("admin:payments_webhookanomaly_changelist"),
    }
    subject, body = email_render("payments/email/webhook_anomaly", context, language=settings.LANGUAGE_CODE)
    with transaction.atomic():
        # Outbox row, delivery and the ``alerted_at`` marker together: a refused send marks nothing.
        email_send_now(to=recipients, subject=subject, body=body)
        WebhookAnomaly.objects.filter(pk__in=[a.pk for a in anomalies]).update(alerted_at=timezone.now())
    return True


# --- Staff -------------------------------------------------------------------------------------


@transaction.atomic
def webhook_replay(*, event: WebhookEvent, actor) -> WebhookEvent:
    """Staff: process a stored event again (settlement is idempotent, so this is always safe)."""
    event = WebhookEvent.objects.select_for_update().get(pk=event.pk)
    webhook_process(event=event, actor=actor)
    audit_record(
        action="webhook.replayed",
        actor=actor,
        target=event,
        data={"event_id": event.event_id, "type": event.type, "error": event.error},
    )
    return event


@transaction.atomic
def webhook_anomaly_resolve(*, anomaly: WebhookAnomaly, actor, resolved: bool = True) -> WebhookAnomaly:
    """Staff: mark an anomaly resolved (the gateway and our books agree again), or open it again."""
    anomaly = (
        WebhookAnomaly.objects.select_for_update(of=("self",)).select_related("event", "payment").get(pk=anomaly.pk)
    )
    if anomaly.resolved == resolved:
        return anomaly
    anomaly.resolved = resolved
    anomaly.resolved_by = actor if resolved else None
    anomaly.resolved_at = timezone.now() if resolved else None
    anomaly.save(update_fields=["resolved", "resolved_by", "resolved_at"])
    audit_record(
        action="webhook.anomaly_resolved" if resolved else "webhook.anomaly_reopened",
        actor=actor,
        company=anomaly.payment.company if anomaly.payment is not None else None,
        target=anomaly,
        data={"event_id": anomaly.event.event_id, "reason": anomaly.reason},
    )
    return anomaly
