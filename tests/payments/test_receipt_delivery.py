"""A receipt is never lost and never sent twice, and queuing it never turns a payment into an error.

The receipt is queued after the payment's commit (``core.queue.enqueue_on_commit``); when
that fails (the broker is down; here, in eager mode, the mail server is) the payment stands, the
payer sees the receipt page, and ``payment_receipts_requeue`` (Celery beat) queues it again later.
The broker-down case with a real worker is tests/faults/test_redis_outage.py.
"""

from __future__ import annotations

import datetime
import re

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend

from payments import services
from payments.models import Payment, PaymentStatus

pytestmark = pytest.mark.django_db(transaction=True)

PAY = "/payments/pay/"
NOW = datetime.timedelta(0)


class UnreachableMailServer(BaseEmailBackend):
    """The edge we fake: an SMTP server that refuses connections."""

    def send_messages(self, email_messages):
        raise ConnectionRefusedError(111, "Connection refused")


def _pay(client, invoice, card):
    page = client.get(PAY, {"invoice": invoice.number}).content.decode()
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)
    return client.post(
        PAY, {"idempotency_key": key, "invoice": invoice.number, "method": str(card.id), "when": "today"}
    )


def test_a_receipt_that_cannot_be_sent_does_not_fail_the_payment_and_is_sent_by_the_sweep(
    login, admin_user, invoice, wallet_card, settings
):
    settings.EMAIL_BACKEND = "tests.payments.test_receipt_delivery.UnreachableMailServer"

    response = _pay(login(admin_user), invoice, wallet_card)

    assert response.status_code == 302
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.receipt_sent_at is None

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert services.payment_receipts_requeue(older_than=NOW) == 1

    payment.refresh_from_db()
    assert payment.receipt_sent_at is not None
    assert [m.to for m in mail.outbox] == [[admin_user.email]]


def test_a_receipt_is_sent_once_however_often_it_is_queued(login, admin_user, invoice, wallet_card):
    _pay(login(admin_user), invoice, wallet_card)
    payment = Payment.objects.get()
    assert payment.receipt_sent_at is not None
    assert len(mail.outbox) == 1

    from payments.tasks import payment_receipt_send_task

    assert payment_receipt_send_task.delay(payment.id).get() is False  # a redelivered message
    assert services.payment_receipts_requeue(older_than=NOW) == 0  # the sweep finds nothing to do
    assert len(mail.outbox) == 1


def test_the_sweep_waits_before_queuing_a_receipt_again_and_skips_payments_without_a_recipient(
    admin_user, invoice, wallet_card, settings
):
    settings.EMAIL_BACKEND = "tests.payments.test_receipt_delivery.UnreachableMailServer"
    [payment] = services.payment_create(
        actor=admin_user,
        invoice_ids=[invoice.id],
        source=services.PaymentSource.from_method(wallet_card),
        idempotency_key="no-mail",
    ).payments
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

    assert services.payment_receipts_requeue() == 0  # settled just now: its message may be on its way
    admin_user.email = ""
    admin_user.save(update_fields=["email"])
    assert services.payment_receipts_requeue(older_than=NOW) == 0  # nobody to send it to
    assert Payment.objects.get(pk=payment.pk).receipt_sent_at is None
    assert mail.outbox == []


def test_the_requeue_command_sends_what_is_left_without_a_worker(login, admin_user, invoice, wallet_card, settings):
    from io import StringIO

    from django.core.management import call_command

    settings.EMAIL_BACKEND = "tests.payments.test_receipt_delivery.UnreachableMailServer"
    _pay(login(admin_user), invoice, wallet_card)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    out = StringIO()

    call_command("requeue_receipts", "--older-than", "0", stdout=out)

    assert "1 receipt(s) queued." in out.getvalue()
    assert [m.to for m in mail.outbox] == [[admin_user.email]]
    assert Payment.objects.get().receipt_sent_at is not None
