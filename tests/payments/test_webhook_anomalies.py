"""Stripe webhooks that are signed but do not fit the payment they name (issue 13).

Every event here carries Stripe's real signature (built offline, as tests/payments/test_webhooks.py
does). A success whose PaymentIntent, amount or currency differs from the payment, or a success for
a payment that failed or that we do not know, changes no money: the payment and the invoice stay
as they were, a ``WebhookAnomaly`` keeps the raw event for billing staff, an audit event records it
and the staff are e-mailed once the transaction commits. Malformed payloads and timestamps from
the future answer 400 and store nothing.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.utils.html import escape

from accounts.models import AuditEvent
from invoices.models import InvoiceStatus
from payments import models
from payments.models import PaymentStatus, WebhookEvent
from tests.accounts.factories import UserFactory

from .test_webhooks import (  # noqa: F401  (the secret is autouse; processing_payment a fixture)
    _webhook_secret,
    event,
    post,
    processing_payment,
    signed,
)

pytestmark = pytest.mark.django_db


class BrokenMailBackend:
    """An SMTP server that is down."""

    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("smtp down")


@pytest.fixture
def sent_payment(processing_payment):  # noqa: F811 - the fixture of test_webhooks, used here
    """A ₩13,000 payment sent to Stripe whose answer never came (Stripe answered 500): processing."""
    assert processing_payment.gateway_reference == ""
    return processing_payment


@pytest.fixture
def payments_staff():
    """A billing staff member allowed to handle payment anomalies, and one who is not."""
    staff = UserFactory(username="billing_staff", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="change_webhookanomaly"))
    UserFactory(username="other_staff", is_staff=True)  # staff, but not for payments
    UserFactory(username="customer")  # never e-mailed about the gateway
    return staff


def anomalies():
    return list(models.WebhookAnomaly.objects.order_by("id"))


def deliver(client, django_capture_on_commit_callbacks, payload: dict):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, *signed(payload))
    return response


def assert_no_money_moved(payment, invoice, status=PaymentStatus.PROCESSING):
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert payment.status == status
    assert invoice.amount_paid == Decimal("0")
    assert invoice.balance == Decimal("13000")
    assert invoice.status == InvoiceStatus.OPEN


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"amount": 1300}, "amount_mismatch"),
        ({"amount_received": 100}, "amount_mismatch"),
        ({"currency": "usd"}, "currency_mismatch"),
    ],
)
def test_a_success_that_does_not_match_the_payment_changes_no_money_and_alerts_staff(
    client, sent_payment, invoice, payments_staff, django_capture_on_commit_callbacks, change, reason
):
    payload = event("payment_intent.succeeded", sent_payment)
    payload["data"]["object"].update(change)

    response = deliver(client, django_capture_on_commit_callbacks, payload)

    assert response.status_code == 200  # received: Stripe must not retry a signed event
    assert_no_money_moved(sent_payment, invoice)
    [anomaly] = anomalies()
    assert anomaly.reason == reason
    assert anomaly.payment == sent_payment
    assert anomaly.event.payload == payload  # the raw event, for staff
    assert not anomaly.resolved
    stored = WebhookEvent.objects.get()
    assert stored.processed_at is None and reason in stored.error
    audit = AuditEvent.objects.get(action="webhook.anomaly")
    assert audit.data["reason"] == reason and audit.data["event_id"] == "evt_1"
    [alert] = mail.outbox
    assert alert.to == [payments_staff.email]
    anomaly.refresh_from_db()
    assert anomaly.alerted_at is not None
    assert sent_payment.reference in alert.body and "evt_1" in alert.body


def test_a_success_for_another_payment_intent_changes_no_money(
    client, sent_payment, invoice, payments_staff, django_capture_on_commit_callbacks
):
    sent_payment.gateway_reference = "pi_ours"
    sent_payment.save(update_fields=["gateway_reference"])

    response = deliver(client, django_capture_on_commit_callbacks, event("payment_intent.succeeded", sent_payment))

    assert response.status_code == 200
    assert_no_money_moved(sent_payment, invoice)
    assert [a.reason for a in anomalies()] == ["intent_mismatch"]
    assert anomalies()[0].detail["event_intent"] == "pi_123"
    assert len(mail.outbox) == 1


def test_a_failure_for_another_payment_intent_does_not_fail_the_payment(
    client, sent_payment, invoice, payments_staff, django_capture_on_commit_callbacks
):
    sent_payment.gateway_reference = "pi_ours"
    sent_payment.save(update_fields=["gateway_reference"])
    payload = event("payment_intent.payment_failed", sent_payment, last_payment_error={"code": "card_declined"})

    deliver(client, django_capture_on_commit_callbacks, payload)

    assert_no_money_moved(sent_payment, invoice)
    assert [a.reason for a in anomalies()] == ["intent_mismatch"]


def test_a_success_after_the_payment_failed_is_recorded_not_stored_silently(
    client, sent_payment, invoice, payments_staff, django_capture_on_commit_callbacks
):
    failed = event(
        "payment_intent.payment_failed", sent_payment, last_payment_error={"decline_code": "insufficient_funds"}
    )
    deliver(client, django_capture_on_commit_callbacks, failed)
    assert_no_money_moved(sent_payment, invoice, status=PaymentStatus.FAILED)
    assert mail.outbox == []

    late = event("payment_intent.succeeded", sent_payment, event_id="evt_2")
    response = deliver(client, django_capture_on_commit_callbacks, late)

    assert response.status_code == 200
    assert_no_money_moved(sent_payment, invoice, status=PaymentStatus.FAILED)
    [anomaly] = anomalies()
    assert anomaly.reason == "payment_failed"
    assert anomaly.event.event_id == "evt_2"
    assert anomaly.detail["payment_status"] == "failed"
    assert len(mail.outbox) == 1
    assert AuditEvent.objects.filter(action="webhook.anomaly").count() == 1


def test_a_success_for_an_unknown_payment_is_recorded_for_staff(
    client, sent_payment, invoice, payments_staff, django_capture_on_commit_callbacks
):
    payload = event("payment_intent.succeeded", sent_payment)
    payload["data"]["object"]["id"] = "pi_stranger"
    payload["data"]["object"]["metadata"] = {"payment_reference": "PMUNKNOWN"}

    response = deliver(client, django_capture_on_commit_callbacks, payload)

    assert response.status_code == 200
    assert_no_money_moved(sent_payment, invoice)
    [anomaly] = anomalies()
    assert anomaly.reason == "unknown_payment"
    assert anomaly.payment is None
    assert len(mail.outbox) == 1 and "pi_stranger" in mail.outbox[0].body


def test_a_matching_success_is_applied_with_no_anomaly(
    client, sent_payment, invoice, payments_staff, django_capture_on_commit_callbacks
):
    response = deliver(client, django_capture_on_commit_callbacks, event("payment_intent.succeeded", sent_payment))

    assert response.status_code == 200
    sent_payment.refresh_from_db()
    invoice.refresh_from_db()
    assert sent_payment.status == PaymentStatus.SUCCEEDED
    assert invoice.status == InvoiceStatus.PAID
    assert anomalies() == []
    assert not AuditEvent.objects.filter(action="webhook.anomaly").exists()


def test_a_redelivered_or_replayed_anomaly_is_recorded_and_alerted_once(
    client, sent_payment, invoice, payments_staff, django_capture_on_commit_callbacks
):
    from payments.webhooks import webhook_replay

    payload = event("payment_intent.succeeded", sent_payment, amount=1)
    deliver(client, django_capture_on_commit_callbacks, payload)
    deliver(client, django_capture_on_commit_callbacks, payload)
    with django_capture_on_commit_callbacks(execute=True):
        webhook_replay(event=WebhookEvent.objects.get(), actor=payments_staff)

    assert WebhookEvent.objects.count() == 1
    assert len(anomalies()) == 1
    assert len(mail.outbox) == 1
    assert_no_money_moved(sent_payment, invoice)


def test_without_staff_for_payments_the_alert_goes_to_the_admins(
    client, sent_payment, invoice, settings, django_capture_on_commit_callbacks
):
    settings.ADMINS = [("Ops", "ops@example.com")]

    deliver(client, django_capture_on_commit_callbacks, event("payment_intent.succeeded", sent_payment, amount=1))

    assert [m.to for m in mail.outbox] == [["ops@example.com"]]


def test_a_mail_outage_leaves_the_anomaly_marked_not_alerted_and_the_event_received(
    client, sent_payment, invoice, payments_staff, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "tests.payments.test_webhook_anomalies.BrokenMailBackend"

    response = deliver(
        client, django_capture_on_commit_callbacks, event("payment_intent.succeeded", sent_payment, amount=1)
    )

    assert response.status_code == 200
    [anomaly] = anomalies()
    assert anomaly.alerted_at is None  # staff see it in the list as not e-mailed
    assert_no_money_moved(sent_payment, invoice)


# --- Malformed payloads and timestamps: 400, nothing stored ------------------------------------


def _without(payload: dict, *path: str) -> dict:
    target = payload
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return payload


def _with(payload: dict, value, *path: str) -> dict:
    target = payload
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return payload


MALFORMED = {
    "no id": lambda p: _without(p, "id"),
    "empty id": lambda p: _with(p, "", "id"),
    "id not a string": lambda p: _with(p, 12, "id"),
    "type not a string": lambda p: _with(p, ["payment_intent.succeeded"], "type"),
    "no data": lambda p: _without(p, "data"),
    "no data.object": lambda p: _without(p, "data", "object"),
    "data.object not an object": lambda p: _with(p, "pi_123", "data", "object"),
    "intent without id": lambda p: _without(p, "data", "object", "id"),
    "amount not an integer": lambda p: _with(p, "13000", "data", "object", "amount"),
    "amount a boolean": lambda p: _with(p, True, "data", "object", "amount"),
    "no amount": lambda p: _without(p, "data", "object", "amount"),
    "currency not a string": lambda p: _with(p, 410, "data", "object", "currency"),
    "metadata not an object": lambda p: _with(p, "PM1", "data", "object", "metadata"),
    "reference not a string": lambda p: _with(p, {"payment_reference": 7}, "data", "object", "metadata"),
    "last_payment_error not an object": lambda p: _with(p, "declined", "data", "object", "last_payment_error"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_signed_but_malformed_event_answers_400_and_stores_nothing(client, sent_payment, invoice, case):
    payload = MALFORMED[case](event("payment_intent.succeeded", sent_payment))

    response = post(client, *signed(payload))

    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()
    assert_no_money_moved(sent_payment, invoice)


@pytest.mark.parametrize("body", [b"[]", b'"event"', b"null", b"{not json", '{"id": "\u00e9"}'.encode("latin-1")])
def test_a_signed_body_that_is_not_an_event_object_answers_400(client, body):
    import hashlib
    import hmac

    from .test_webhooks import SECRET

    timestamp = int(time.time())
    signature = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()

    response = post(client, body, f"t={timestamp},v1={signature}")

    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


def test_a_timestamp_from_the_future_is_refused_like_a_stale_one(client, sent_payment, invoice):
    payload = event("payment_intent.succeeded", sent_payment)

    assert post(client, *signed(payload, timestamp=int(time.time()) + 3600)).status_code == 400
    assert post(client, *signed(payload, timestamp=int(time.time()) + 301)).status_code == 400
    assert not WebhookEvent.objects.exists()
    assert_no_money_moved(sent_payment, invoice)
    # a clock a little ahead of ours is still fine
    assert post(client, *signed(payload, timestamp=int(time.time()) + 60)).status_code == 200


def test_a_header_without_a_timestamp_is_refused(client, sent_payment):
    body, header = signed(event("payment_intent.succeeded", sent_payment))

    assert post(client, body, header.split(",", 1)[1]).status_code == 400
    assert post(client, body, "t=soon," + header.split(",", 1)[1]).status_code == 400


# --- Admin: the list for staff -----------------------------------------------------------------


@pytest.fixture
def recorded(client, sent_payment, payments_staff, django_capture_on_commit_callbacks):
    deliver(client, django_capture_on_commit_callbacks, event("payment_intent.succeeded", sent_payment, amount=1))
    return models.WebhookAnomaly.objects.get()


def test_admin_lists_anomalies_filtered_by_reason_and_shows_the_raw_event(client, recorded):
    staff = UserFactory(username="super_staff", is_staff=True, is_superuser=True)
    client.force_login(staff)

    listed = client.get("/admin/payments/webhookanomaly/", {"reason__exact": "amount_mismatch"})
    other = client.get("/admin/payments/webhookanomaly/", {"reason__exact": "currency_mismatch"})
    page = client.get(f"/admin/payments/webhookanomaly/{recorded.pk}/change/")

    assert listed.status_code == 200 and "evt_1" in listed.content.decode()
    assert "evt_1" not in other.content.decode()
    assert page.status_code == 200
    raw = json.dumps({"payment_reference": recorded.payment.reference})[1:-1]
    assert escape(raw) in page.content.decode()  # the raw event, pretty-printed
    assert client.get("/admin/payments/webhookanomaly/add/").status_code == 403


def test_staff_mark_an_anomaly_resolved_and_nothing_else(client, recorded, payments_staff):
    payments_staff.user_permissions.add(Permission.objects.get(codename="view_webhookanomaly"))
    client.force_login(payments_staff)

    response = client.post(
        f"/admin/payments/webhookanomaly/{recorded.pk}/change/",
        {"resolved": "on", "reason": "currency_mismatch", "detail": "{}"},
    )

    assert response.status_code == 302
    recorded.refresh_from_db()
    assert recorded.resolved
    assert recorded.resolved_by == payments_staff and recorded.resolved_at is not None
    assert recorded.reason == "amount_mismatch"  # read-only
    assert recorded.detail != {}
    assert AuditEvent.objects.filter(action="webhook.anomaly_resolved", actor=payments_staff).count() == 1
    assert client.post(f"/admin/payments/webhookanomaly/{recorded.pk}/delete/", {"post": "yes"}).status_code == 403
    assert models.WebhookAnomaly.objects.filter(pk=recorded.pk).exists()
