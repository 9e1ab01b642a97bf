from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from invoices.models import Invoice, InvoiceStatus, LineKind
from tests.accounts.factories import BillingPlanFactory, ShippingAccountFactory
from tests.invoices.factories import InvoiceFactory, InvoiceLineFactory

pytestmark = pytest.mark.django_db


def _reload(invoice):
    return Invoice.objects.get(pk=invoice.pk)


def test_balance_and_status_are_derived_by_the_database():
    invoice = InvoiceFactory(total=Decimal("50000"), amount_paid=Decimal("0"))
    assert _reload(invoice).balance == Decimal("50000")
    assert _reload(invoice).status == InvoiceStatus.OPEN

    Invoice.objects.filter(pk=invoice.pk).update(amount_paid=Decimal("50000"))
    assert _reload(invoice).balance == 0
    assert _reload(invoice).status == InvoiceStatus.PAID

    Invoice.objects.filter(pk=invoice.pk).update(total=Decimal("40000"))
    assert _reload(invoice).balance == Decimal("-10000")
    assert _reload(invoice).status == InvoiceStatus.CREDIT


def test_invoice_belongs_to_exactly_one_account_or_plan():
    account = ShippingAccountFactory()
    plan = BillingPlanFactory(company=account.company)
    with pytest.raises(IntegrityError), transaction.atomic():
        InvoiceFactory(account=account, plan=plan)
    with pytest.raises(IntegrityError), transaction.atomic():
        InvoiceFactory(account=None, plan=None, currency="KRW")


def test_a_print_fee_is_charged_at_most_once_per_invoice():
    invoice = InvoiceFactory()
    InvoiceLineFactory(invoice=invoice, kind=LineKind.PRINT_FEE, amount=Decimal("13000"))
    with pytest.raises(IntegrityError), transaction.atomic():
        InvoiceLineFactory(invoice=invoice, kind=LineKind.PRINT_FEE, amount=Decimal("13000"))


def test_account_numbers_are_six_alphanumerics_or_ten_digits():
    assert ShippingAccountFactory(number="0123456789").is_temporary
    assert not ShippingAccountFactory(number="A1B2C3").is_temporary
    with pytest.raises(IntegrityError), transaction.atomic():
        ShippingAccountFactory(number="abc12")
