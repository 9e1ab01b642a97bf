"""Invoice detail: header facts, charges grouped by shipment, fees, payments applied, disputes, actions."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from disputes.models import Dispute, DisputeStatus
from invoices.models import LineKind
from payments.models import Payment, PaymentAllocation, PaymentStatus
from tests.invoices.factories import InvoiceFactory, InvoiceLineFactory

from .conftest import add_lines


@pytest.fixture
def invoice(world):
    invoice = add_lines(InvoiceFactory(account=world.account_a), shipments=2, print_fee=True)
    InvoiceLineFactory(invoice=invoice, kind=LineKind.LATE_FEE, description="연체 요금", amount=Decimal("5000"))
    InvoiceLineFactory(
        invoice=invoice, kind=LineKind.ADJUSTMENT, description="운임 조정 크레딧", amount=Decimal("-3000")
    )
    return invoice


def test_detail_shows_header_facts_groups_fees_and_actions(client, world, invoice):
    client.force_login(world.admin)
    response = client.get(reverse("invoices:detail", args=[invoice.number]))
    body = response.content.decode()
    assert response.status_code == 200
    for text in (invoice.number, invoice.control_id, world.account_a.number, "Invoice print fee", "Late fee"):
        assert text in body
    tracking = set(invoice.lines.exclude(shipment=None).values_list("shipment__tracking_number", flat=True))
    assert len(tracking) == 2 and all(t in body for t in tracking)
    assert 'data-kind="print_fee"' in body and 'data-kind="late_fee"' in body and 'data-kind="adjustment"' in body
    assert reverse("invoices:pdf", args=[invoice.number]) in body
    assert reverse("invoices:xml", args=[invoice.number]) in body  # account a is XML-enrolled
    assert f"/payments/pay/?invoice={invoice.number}" in body


def test_detail_lists_payments_applied_and_disputes(client, world, invoice):
    payment = Payment.objects.create(
        reference="PAY-TEST-1",
        idempotency_key="detail-test-1",
        company=world.company,
        currency="KRW",
        amount=Decimal("20000"),
        status=PaymentStatus.SUCCEEDED,
        method_kind="credit_card",
        gateway="simulated",
    )
    PaymentAllocation.objects.create(payment=payment, invoice=invoice, amount=Decimal("20000"))
    Dispute.objects.create(reference="DSP-TEST-1", company=world.company, invoice=invoice, filed_by=world.admin)
    Dispute.objects.create(
        reference="DSP-TEST-2",
        company=world.company,
        invoice=invoice,
        filed_by=world.admin,
        status=DisputeStatus.REJECTED,
    )
    client.force_login(world.viewer)
    body = client.get(reverse("invoices:detail", args=[invoice.number])).content.decode()
    assert "PAY-TEST-1" in body and "₩20,000" in body
    assert "DSP-TEST-1" in body and "DSP-TEST-2" in body
    assert "badge-disputed" in body  # one dispute is still open
    assert "/payments/pay/?invoice=" not in body  # a viewer may not pay


def test_detail_query_count_does_not_depend_on_the_number_of_lines(client, world, django_assert_max_num_queries):
    small = add_lines(InvoiceFactory(account=world.account_a), shipments=1)
    large = add_lines(InvoiceFactory(account=world.account_a), shipments=25)
    client.force_login(world.admin)
    client.get(reverse("invoices:detail", args=[small.number]))
    with django_assert_max_num_queries(20) as captured:
        client.get(reverse("invoices:detail", args=[small.number]))
    with django_assert_max_num_queries(len(captured.captured_queries)):
        client.get(reverse("invoices:detail", args=[large.number]))


def test_detail_of_a_temporary_account_shows_the_billing_contact_instead_of_pay(client, world):
    from tests.accounts.factories import ShippingAccountFactory

    temporary = ShippingAccountFactory(company=world.company, number="5012348876", billing_contact_phone="02-555-0101")
    invoice = add_lines(InvoiceFactory(account=temporary))
    client.force_login(world.admin)
    body = client.get(reverse("invoices:detail", args=[invoice.number])).content.decode()
    assert "/payments/pay/?invoice=" not in body
    assert "/disputes/new/?invoice=" not in body
    assert "02-555-0101" in body and "cannot be paid or disputed online" in body


def test_detail_of_unknown_or_foreign_invoice_is_404(client, world):
    client.force_login(world.admin)
    assert client.get(reverse("invoices:detail", args=["NOPE"])).status_code == 404
    assert client.get(reverse("invoices:detail", args=[world.foreign.number])).status_code == 404
