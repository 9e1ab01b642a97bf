"""Shared set-up for payment tests: a company with an Administrator, an account and open invoices."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from accounts.models import Role
from payments.gateways.simulated import SimulatedGateway
from payments.models import MethodKind, PaymentMethod
from tests.accounts.factories import CompanyFactory, MembershipFactory, ShippingAccountFactory, UserFactory
from tests.invoices.factories import InvoiceFactory

CARD_OK = "4242424242424242"
CARD_INSUFFICIENT = "4000000000009995"
CARD_EXPIRED = "4000000000000069"
CARD_PROCESSING_ERROR = "4000000000000119"
CARD_TIMEOUT = "4000000000007726"


@pytest.fixture(autouse=True)
def _fixed_today(settings):
    """Invoices in these tests fall due after 'today'; the e-mail backend records messages."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.PAYMENT_GATEWAY = "simulated"


@pytest.fixture
def company():
    return CompanyFactory(name="한빛물류")


@pytest.fixture
def admin_user(company):
    user = UserFactory(username="payadmin")
    MembershipFactory(user=user, company=company, role=Role.ADMINISTRATOR)
    return user


@pytest.fixture
def account(company):
    return ShippingAccountFactory(company=company, number="A1B2C3")


def future(days: int = 30) -> datetime.date:
    from django.utils import timezone

    return timezone.localdate() + datetime.timedelta(days=days)


@pytest.fixture
def invoice(account):
    today = future(0)
    return InvoiceFactory(
        account=account, number="INV000000101", total=Decimal("13000"), invoice_date=today, due_date=future(20)
    )


def card_method(company, number=CARD_OK, *, default=True, exp=(12, 2030), nickname="법인카드") -> PaymentMethod:
    saved = SimulatedGateway().tokenize_card(
        number=number, exp_month=exp[0], exp_year=exp[1], cvc="123", holder_name="홍길동"
    )
    return PaymentMethod.objects.create(
        company=company,
        kind=MethodKind.CREDIT_CARD,
        nickname=nickname,
        holder_name=saved.holder_name,
        brand=saved.brand,
        last4=saved.last4,
        exp_month=saved.exp_month,
        exp_year=saved.exp_year,
        gateway="simulated",
        gateway_token=saved.token,
        is_default=default,
    )


@pytest.fixture
def wallet_card(company):
    return card_method(company)


@pytest.fixture(autouse=True)
def _english_pages(client):
    """Pages in English, so text assertions hold once the Korean catalogue is filled in."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
