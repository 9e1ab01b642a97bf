"""A credit balance (an invoice paid above its total after a dispute) is used first by the next payment."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import AuditEvent
from invoices.models import InvoiceStatus
from payments import services
from payments.models import CreditApplication, Payment, PaymentStatus, SimulatedCharge
from tests.accounts.factories import ShippingAccountFactory
from tests.invoices.factories import InvoiceFactory

from .conftest import future

pytestmark = pytest.mark.django_db


@pytest.fixture
def credit_invoice(account):
    """Paid ₩13,000, then a dispute credit of ₩3,000 lowered the total: balance -₩3,000."""
    return InvoiceFactory(
        account=account,
        number="INVCREDIT001",
        total=Decimal("10000"),
        amount_paid=Decimal("13000"),
        invoice_date=future(-40),
        due_date=future(-10),
    )


def pay(user, invoices, method, key="k"):
    return services.payment_create(
        actor=user,
        invoice_ids=[i.id for i in invoices],
        source=services.PaymentSource.from_method(method),
        idempotency_key=key,
    )


def test_next_payment_uses_the_credit_first_and_charges_the_rest(admin_user, account, credit_invoice, wallet_card):
    assert credit_invoice.status == InvoiceStatus.CREDIT
    target = InvoiceFactory(account=account, total=Decimal("5000"), invoice_date=future(0), due_date=future(10))

    outcome = pay(admin_user, [target], wallet_card)

    [payment] = outcome.payments
    assert payment.amount == Decimal("2000")
    assert payment.status == PaymentStatus.SUCCEEDED
    [credit] = CreditApplication.objects.all()
    assert (credit.source_invoice, credit.target_invoice, credit.amount, credit.payment) == (
        credit_invoice,
        target,
        Decimal("3000"),
        payment,
    )
    credit_invoice.refresh_from_db()
    target.refresh_from_db()
    assert credit_invoice.balance == 0 and credit_invoice.status == InvoiceStatus.PAID
    assert target.balance == 0 and target.amount_paid == Decimal("5000")
    assert SimulatedCharge.objects.get().amount_minor == 2000
    assert AuditEvent.objects.filter(action="credit.applied").count() == 1


def test_credit_covering_everything_charges_nothing_and_replays(admin_user, account, credit_invoice, wallet_card):
    target = InvoiceFactory(account=account, total=Decimal("2500"), invoice_date=future(0), due_date=future(10))

    first = pay(admin_user, [target], wallet_card, key="all-credit")
    second = pay(admin_user, [target], wallet_card, key="all-credit")

    assert first.payments == [] and len(first.credits) == 1
    assert second.replayed and [c.id for c in second.credits] == [c.id for c in first.credits]
    assert not Payment.objects.exists()
    credit_invoice.refresh_from_db()
    assert credit_invoice.balance == Decimal("-500")


def test_credit_of_another_account_is_not_used(admin_user, company, credit_invoice, wallet_card):
    other = InvoiceFactory(
        account=ShippingAccountFactory(company=company),
        total=Decimal("5000"),
        invoice_date=future(0),
        due_date=future(10),
    )

    [payment] = pay(admin_user, [other], wallet_card).payments

    assert payment.amount == Decimal("5000")
    assert not CreditApplication.objects.exists()


def test_paying_with_credit_only_lands_on_a_page_listing_the_credit(
    login, admin_user, account, credit_invoice, wallet_card
):
    import re

    target = InvoiceFactory(
        account=account, number="INVSMALL0001", total=Decimal("1000"), invoice_date=future(0), due_date=future(10)
    )
    client = login(admin_user)
    page = client.get("/payments/pay/", {"invoice": target.number})
    assert "INVCREDIT001" in page.content.decode()  # the review says the credit is used first
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page.content.decode()).group(1)

    response = client.post(
        "/payments/pay/",
        {"idempotency_key": key, "invoice": target.number, "method": str(wallet_card.id), "when": "today"},
        follow=True,
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "INVCREDIT001" in body and "INVSMALL0001" in body
    target.refresh_from_db()
    assert target.status == InvoiceStatus.PAID
