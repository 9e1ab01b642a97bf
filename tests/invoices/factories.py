"""factory_boy factories for invoices' models: invoices, their lines, shipments."""

from __future__ import annotations

import datetime
from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from invoices.models import Invoice, InvoiceLine, LineKind, Shipment
from tests.accounts.factories import ShippingAccountFactory


class InvoiceFactory(DjangoModelFactory):
    class Meta:
        model = Invoice

    number = factory.Sequence(lambda n: f"INV{n:09d}")
    control_id = factory.Sequence(lambda n: f"C{n:07d}")
    account = factory.SubFactory(ShippingAccountFactory)
    invoice_date = factory.LazyFunction(lambda: datetime.date(2026, 11, 1))
    due_date = factory.LazyAttribute(lambda i: i.invoice_date + datetime.timedelta(days=30))
    currency = factory.LazyAttribute(lambda i: (i.account or i.plan).currency)
    total = Decimal("100000")
    amount_paid = Decimal("0")


class ShipmentFactory(DjangoModelFactory):
    class Meta:
        model = Shipment

    tracking_number = factory.Sequence(lambda n: f"1Z{n:016d}")
    account = factory.SubFactory(ShippingAccountFactory)
    ship_date = datetime.date(2026, 10, 20)
    service = Shipment.Service.STANDARD
    weight_kg = Decimal("2.50")
    origin = "서울특별시"
    destination = "부산광역시"


class InvoiceLineFactory(DjangoModelFactory):
    class Meta:
        model = InvoiceLine

    invoice = factory.SubFactory(InvoiceFactory)
    kind = LineKind.SHIPMENT
    description = "운송 요금"
    amount = Decimal("10000")
