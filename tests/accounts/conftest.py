import datetime
from decimal import Decimal

import pytest
from django.utils import timezone, translation

from accounts.models import InvoiceDelivery, Role
from tests.accounts.factories import (
    BillingPlanFactory,
    CompanyFactory,
    MembershipFactory,
    ShippingAccountFactory,
    UserFactory,
)
from tests.invoices.factories import InvoiceFactory


@pytest.fixture(autouse=True)
def _english(settings):
    """Assertions read the English msgids, whatever the Korean catalogue says."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def unenrolled_account(db):
    """An account nobody has enrolled yet, on paper invoices."""
    return ShippingAccountFactory(
        number="7K3X9A",
        name="한빛물산 발송",
        company=None,
        invoice_delivery=InvoiceDelivery.PAPER,
        billing_contact_phone="02-3456-7890",
    )


@pytest.fixture
def recent_invoice(unenrolled_account):
    """An invoice of that account issued ten days ago."""
    return InvoiceFactory(
        number="INV-2026-0001",
        control_id="QW12ER",
        account=unenrolled_account,
        invoice_date=timezone.localdate() - datetime.timedelta(days=10),
        total=Decimal("1234000"),
    )


@pytest.fixture
def enrolling_user(db):
    return UserFactory(username="enroller", email="enroller@example.com")


def invoice_values(invoice, **overrides):
    """The POST data of the enrolment form, as printed on ``invoice``."""
    data = {
        "number": invoice.billable.number,
        "invoice_number": invoice.number,
        "invoice_date": invoice.invoice_date.isoformat(),
        "amount": f"{invoice.total:,.0f}",
        "control_id": invoice.control_id,
    }
    data.update(overrides)
    return data


# --- a company with two accounts, an Administrator and a Manager (test_users.py, test_services.py)


@pytest.fixture
def company():
    return CompanyFactory(name="가온물류")


@pytest.fixture
def accounts(company):
    return ShippingAccountFactory(company=company, number="AAA111"), ShippingAccountFactory(
        company=company, number="BBB222"
    )


@pytest.fixture
def admin_membership(company):
    return MembershipFactory(company=company, role=Role.ADMINISTRATOR)


@pytest.fixture
def admin(admin_membership):
    return admin_membership.user


@pytest.fixture
def manager(company, accounts):
    return MembershipFactory(company=company, role=Role.MANAGER, accounts=[accounts[0]]).user


@pytest.fixture
def newcomer():
    return UserFactory(username="newcomer", email="newcomer@example.com")


# --- the scope world (test_access.py, test_selectors.py) ----------------------------------------


@pytest.fixture
def world():
    """Company A with two accounts and a plan, company B with one account; a user per role."""
    company = CompanyFactory()
    other_company = CompanyFactory()
    acc1 = ShippingAccountFactory(company=company)
    acc2 = ShippingAccountFactory(company=company)
    plan = BillingPlanFactory(company=company)
    foreign = ShippingAccountFactory(company=other_company)
    invoices = {
        "acc1": InvoiceFactory(account=acc1),
        "acc2": InvoiceFactory(account=acc2),
        "plan": InvoiceFactory(account=None, plan=plan, currency="KRW"),
        "foreign": InvoiceFactory(account=foreign),
    }
    users = {
        "administrator": MembershipFactory(company=company, role=Role.ADMINISTRATOR).user,
        "manager": MembershipFactory(company=company, role=Role.MANAGER, accounts=[acc1], plans=[plan]).user,
        "payer": MembershipFactory(company=company, role=Role.PAYER, accounts=[acc2]).user,
        "viewer": MembershipFactory(company=company, role=Role.VIEWER, accounts=[acc1]).user,
        "outsider": MembershipFactory(company=other_company, role=Role.ADMINISTRATOR).user,
    }
    return {
        "company": company,
        "accounts": {"acc1": acc1, "acc2": acc2, "foreign": foreign},
        "plan": plan,
        "invoices": invoices,
        "users": users,
    }
