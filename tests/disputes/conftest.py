"""A company with one paperless account, an invoice of three charges, and a user of every role."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from accounts.models import Role
from disputes.models import DisputeReason
from invoices.models import LineKind
from tests.accounts.factories import CompanyFactory, MembershipFactory, ShippingAccountFactory, UserFactory
from tests.invoices.factories import InvoiceFactory, InvoiceLineFactory, ShipmentFactory

PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def file_with_attachments(client, world, files):
    """POST the filing form for the world's invoice: one weight claim on the freight line, with ``files``."""
    line = world["freight"]
    data = {
        f"line_{line.id}": "on",
        f"line_{line.id}_reason": DisputeReason.WEIGHT,
        f"line_{line.id}_amount": "1000",
        "attachments": files,
    }
    return client.post(reverse("disputes:file") + f"?invoice={world['invoice'].number}", data)


JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


@pytest.fixture
def world(db):
    company = CompanyFactory(name="한빛물류")
    account = ShippingAccountFactory(company=company, number="A1B2C3")
    other_account = ShippingAccountFactory(company=company, number="Z9Y8X7")
    invoice = InvoiceFactory(number="INV000000101", account=account, total=Decimal("55000"))
    shipment = ShipmentFactory(account=account, tracking_number="1Z0000000000000101")
    freight = InvoiceLineFactory(
        invoice=invoice,
        position=1,
        kind=LineKind.SHIPMENT,
        description="운송 요금",
        amount=Decimal("30000"),
        shipment=shipment,
    )
    second = InvoiceLineFactory(
        invoice=invoice, position=2, kind=LineKind.SHIPMENT, description="운송 요금 2", amount=Decimal("20000")
    )
    surcharge = InvoiceLineFactory(
        invoice=invoice, position=3, kind=LineKind.SURCHARGE, description="주소 정정 요금", amount=Decimal("5000")
    )
    users = {}
    users["administrator"] = UserFactory(username="admin1")
    MembershipFactory(user=users["administrator"], company=company, role=Role.ADMINISTRATOR)
    for role in (Role.MANAGER, Role.PAYER, Role.VIEWER):
        user = UserFactory(username=f"{role}1")
        MembershipFactory(user=user, company=company, role=role, accounts=[account])
        users[str(role)] = user
    # A payer of the same company who is not assigned the disputed account.
    users["unassigned"] = UserFactory(username="payer_other_account")
    MembershipFactory(user=users["unassigned"], company=company, role=Role.PAYER, accounts=[other_account])
    outsider_company = CompanyFactory(name="다른회사")
    users["outsider"] = UserFactory(username="outsider")
    MembershipFactory(user=users["outsider"], company=outsider_company, role=Role.ADMINISTRATOR)
    return {
        "company": company,
        "account": account,
        "other_account": other_account,
        "invoice": invoice,
        "freight": freight,
        "second": second,
        "surcharge": surcharge,
        "shipment": shipment,
        "users": users,
    }


@pytest.fixture
def staff_user(db):
    user = UserFactory(username="billing_staff", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="disputes", codename__in=["view_dispute", "change_dispute"])
    )
    return user


@pytest.fixture
def supervisor(db):
    user = UserFactory(username="billing_supervisor", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="disputes",
            codename__in=["view_dispute", "change_dispute", "decide_large_dispute"],
        )
    )
    return user
