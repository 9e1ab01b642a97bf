"""A small world for the invoice centre: our company (two accounts, a plan) and a foreign one."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
import time_machine

from accounts.models import Role
from invoices.models import ExportJob, Invoice, LineKind
from tests.accounts.factories import (
    BillingPlanFactory,
    CompanyFactory,
    MembershipFactory,
    ShippingAccountFactory,
    UserFactory,
)
from tests.invoices.factories import InvoiceFactory, InvoiceLineFactory, ShipmentFactory


@dataclass
class World:
    admin: object
    viewer: object  # sees account "a" only
    outsider: object  # administrator of the foreign company
    company: object
    account_a: object
    account_b: object
    plan: object
    foreign_account: object
    invoices: list[Invoice] = field(default_factory=list)  # ours (accounts and plan)
    foreign: Invoice | None = None


def add_lines(invoice: Invoice, *, shipments: int = 2, print_fee: bool = False) -> Invoice:
    """Shipment charges (each with a surcharge), tax and optionally a print fee; total updated."""
    total = Decimal(0)
    position = 0
    account = invoice.account or invoice.plan.accounts.first() or ShippingAccountFactory(company=invoice.plan.company)
    for index in range(shipments):
        shipment = ShipmentFactory(account=account, ship_date=invoice.invoice_date - datetime.timedelta(days=index + 1))
        for kind, description, amount in (
            (LineKind.SHIPMENT, "운송 요금", Decimal("12000")),
            (LineKind.SURCHARGE, "유류 할증료", Decimal("1800")),
        ):
            position += 1
            InvoiceLineFactory(
                invoice=invoice,
                shipment=shipment,
                kind=kind,
                description=description,
                amount=amount,
                position=position,
            )
            total += amount
    position += 1
    InvoiceLineFactory(
        invoice=invoice, kind=LineKind.TAX, description="부가가치세", amount=Decimal("2760"), position=position
    )
    total += Decimal("2760")
    if print_fee:
        position += 1
        InvoiceLineFactory(
            invoice=invoice,
            kind=LineKind.PRINT_FEE,
            description="청구서 인쇄 수수료",
            amount=Decimal("13000"),
            position=position,
        )
        total += Decimal("13000")
    Invoice.objects.filter(pk=invoice.pk).update(total=total)
    invoice.refresh_from_db()
    return invoice


@pytest.fixture
def world(db) -> World:
    company = CompanyFactory(name="한빛상사")
    account_a = ShippingAccountFactory(company=company, name="서울 센터", xml_enrolled=True)
    account_b = ShippingAccountFactory(company=company, name="부산 지점")
    plan = BillingPlanFactory(company=company, name="통합 플랜")
    account_a.plan = plan
    account_a.save()
    admin = MembershipFactory(company=company, role=Role.ADMINISTRATOR).user
    viewer = MembershipFactory(company=company, role=Role.VIEWER, accounts=[account_a]).user
    foreign_company = CompanyFactory(name="다른회사")
    foreign_account = ShippingAccountFactory(company=foreign_company, xml_enrolled=True)
    outsider = MembershipFactory(company=foreign_company, role=Role.ADMINISTRATOR).user
    world = World(
        admin=admin,
        viewer=viewer,
        outsider=outsider,
        company=company,
        account_a=account_a,
        account_b=account_b,
        plan=plan,
        foreign_account=foreign_account,
    )
    world.foreign = add_lines(InvoiceFactory(account=foreign_account, number="FOREIGN000001"))
    return world


@pytest.fixture
def user_factory():
    return UserFactory


@pytest.fixture(autouse=True)
def _english(client, settings):
    """Assertions read the English msgids: the Korean catalogue (the default language) comes later."""
    from django.utils import translation

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    with translation.override("en"):
        yield


# The tables' "today" (display status, past due) in the tests that freeze it.
TABLE_TODAY = datetime.date(2026, 6, 15)


@pytest.fixture
def table_today():
    """Freeze the clock at TABLE_TODAY, 12:00 in Seoul."""
    with time_machine.travel(datetime.datetime(2026, 6, 15, 3, 0, tzinfo=datetime.UTC), tick=False):
        yield TABLE_TODAY


@pytest.fixture
def job(world):
    """An XML export job of four of account A's invoices, owned by the Administrator (not built yet)."""
    invoices = [InvoiceFactory(account=world.account_a) for _ in range(4)]
    return ExportJob.objects.create(
        owner=world.admin,
        format="xml",
        language="en",
        invoice_ids=[invoice.id for invoice in invoices],
        total=len(invoices),
        download_url="http://testserver/invoices/exports/x/",
    )
