"""Every payments e-mail goes through the outbox (core.mail): a receipt is an outbox row sent once,
a refused send leaves neither the row nor the marker, and what an invoice owes changes only
through the invoices app, never above its balance."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend

from core.models import OutgoingEmail
from invoices.locks import invoices_lock
from invoices.services import invoice_payments_apply
from payments.models import Payment
from payments.services.charge import PaymentSource
from payments.services.checkout import payment_create
from payments.tasks import payment_receipt_send_task

pytestmark = pytest.mark.django_db


class RefusingMailServer(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise ConnectionRefusedError(111, "Connection refused")


def _paid(admin_user, invoice, wallet_card) -> Payment:
    [payment] = payment_create(
        actor=admin_user,
        invoice_ids=[invoice.id],
        source=PaymentSource.from_method(wallet_card),
        idempotency_key="outbox-receipt",
    ).payments
    return payment


def test_a_receipt_is_an_outbox_row_sent_once_with_its_pdf(admin_user, invoice, wallet_card):
    payment = _paid(admin_user, invoice, wallet_card)

    assert payment_receipt_send_task.delay(payment.id).get() is True
    assert payment_receipt_send_task.delay(payment.id).get() is False  # a redelivered message

    [row] = OutgoingEmail.objects.all()
    assert row.to == [admin_user.email] and row.sent_at is not None
    assert row.attachments[0]["filename"] == f"receipt-{payment.reference}.pdf"
    assert [m.to for m in mail.outbox] == [[admin_user.email]]
    payment.refresh_from_db()
    assert payment.receipt_sent_at is not None


def test_a_refused_receipt_leaves_no_outbox_row_and_no_marker(admin_user, invoice, wallet_card, settings):
    payment = _paid(admin_user, invoice, wallet_card)
    settings.EMAIL_BACKEND = "tests.payments.test_outbox.RefusingMailServer"

    with pytest.raises(ConnectionRefusedError):
        payment_receipt_send_task.delay(payment.id).get()

    assert not OutgoingEmail.objects.exists()
    payment.refresh_from_db()
    assert payment.receipt_sent_at is None  # the sweep sends it later


def test_payments_are_applied_by_the_invoices_app_never_above_the_balance(invoice):
    [locked] = invoices_lock([invoice.id])

    applied = invoice_payments_apply(
        invoices={locked.id: locked}, amounts=[(locked.id, Decimal("10000")), (locked.id, Decimal("10000"))]
    )

    assert applied == [Decimal("10000"), Decimal("3000")]
    invoice.refresh_from_db()
    assert invoice.amount_paid == invoice.total == Decimal("13000")
