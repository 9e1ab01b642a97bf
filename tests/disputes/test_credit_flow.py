"""End to end: an approved dispute on a paid invoice leaves a credit that the next payment uses first."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from disputes.models import DisputeReason
from disputes.services import Decision, DisputeItemInput, dispute_decide, dispute_file
from invoices.models import Invoice, InvoiceStatus
from payments import services as payments
from tests.invoices.factories import InvoiceFactory
from tests.payments.conftest import card_method

pytestmark = pytest.mark.django_db


def test_credit_from_a_dispute_is_used_first_by_the_next_payment(world, staff_user, settings):
    settings.PAYMENT_GATEWAY = "simulated"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    today = timezone.localdate()
    # Given the disputed invoice was paid in full …
    Invoice.objects.filter(pk=world["invoice"].pk).update(amount_paid=Decimal("55000"))
    dispute = dispute_file(
        invoice=world["invoice"],
        items=[DisputeItemInput(line_id=world["freight"].id, reason=DisputeReason.WEIGHT, amount=Decimal("12000"))],
        actor=world["users"]["payer"],
    )
    # … when billing staff approve ₩9,000 of it …
    dispute_decide(dispute=dispute, decision=Decision.PARTIAL, amount=Decimal("9000"), actor=staff_user)
    credited = Invoice.objects.get(pk=world["invoice"].pk)
    assert (credited.balance, credited.status) == (Decimal("-9000"), InvoiceStatus.CREDIT)

    # … then the next invoice of the account is paid with the credit first and the card for the rest.
    nxt = InvoiceFactory(
        account=world["account"],
        total=Decimal("20000"),
        invoice_date=today,
        due_date=today + datetime.timedelta(days=20),
    )
    outcome = payments.payment_create(
        actor=world["users"]["payer"],
        invoice_ids=[nxt.id],
        source=payments.PaymentSource.from_method(card_method(world["company"])),
        idempotency_key="after-dispute",
    )

    [payment] = outcome.payments
    assert payment.amount == Decimal("11000")
    credited.refresh_from_db()
    nxt.refresh_from_db()
    assert credited.balance == 0
    assert nxt.balance == 0
