"""factory_boy factories for payments' models: wallet entries, payments, allocations, AutoPay.

Only the rows the tests and the bench build by hand again and again. A card in the wallet here
carries a made-up token: a test that charges it through the simulated gateway tokenises a real
test card instead (tests/payments/conftest.py ``card_method``).
"""

from __future__ import annotations

from decimal import Decimal

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from payments.models import AutoPaySchedule, MethodKind, Payment, PaymentAllocation, PaymentMethod, PaymentStatus
from tests.accounts.factories import CompanyFactory, ShippingAccountFactory
from tests.invoices.factories import InvoiceFactory


class PaymentMethodFactory(DjangoModelFactory):
    class Meta:
        model = PaymentMethod

    company = factory.SubFactory(CompanyFactory)
    kind = MethodKind.CREDIT_CARD
    nickname = "법인카드"
    holder_name = "홍길동"
    brand = "visa"
    last4 = "4242"
    exp_month = 12
    exp_year = 2030
    gateway = "simulated"
    gateway_token = factory.Sequence(lambda n: f"tok_factory_{n}")
    is_default = False


class PaymentFactory(DjangoModelFactory):
    class Meta:
        model = Payment

    reference = factory.Sequence(lambda n: f"PAY{n:09d}")
    idempotency_key = factory.LazyAttribute(lambda p: f"factory:{p.reference}")
    company = factory.SubFactory(CompanyFactory)
    currency = "KRW"
    amount = Decimal("13000")
    status = PaymentStatus.SUCCEEDED
    method = None
    method_kind = MethodKind.CREDIT_CARD
    gateway = "simulated"


class PaymentAllocationFactory(DjangoModelFactory):
    class Meta:
        model = PaymentAllocation

    payment = factory.SubFactory(PaymentFactory)
    invoice = factory.SubFactory(InvoiceFactory)
    amount = factory.LazyAttribute(lambda a: a.payment.amount)


class AutoPayScheduleFactory(DjangoModelFactory):
    """An account's AutoPay: the full amount, three days before the due date."""

    class Meta:
        model = AutoPaySchedule

    account = factory.SubFactory(ShippingAccountFactory)
    company = factory.LazyAttribute(lambda s: (s.account or s.plan).company)
    plan = None
    method = factory.SubFactory(PaymentMethodFactory, company=factory.SelfAttribute("..company"))
    amount_mode = AutoPaySchedule.AmountMode.FULL
    timing = AutoPaySchedule.Timing.DAYS_BEFORE_DUE
    days_before_due = 3
    start_date = factory.LazyFunction(timezone.localdate)
    consent_at = factory.LazyFunction(timezone.now)
    terms_version = "1"
