"""factory_boy factories for accounts' models: users, companies, shipping accounts, plans, roles.

The bench (bench/, billing_centre/seed/bench.py) builds its world with these too.
"""

from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from accounts.models import BillingPlan, Company, InvoiceDelivery, Membership, Role, ShippingAccount, User

PASSWORD = "correct-horse-battery-staple"


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    name = factory.Faker("name", locale="ko_KR")
    password = factory.django.Password(PASSWORD)

    @factory.post_generation
    def verified(obj, create, extracted, **kwargs):
        """allauth refuses log-in before the e-mail is verified; test users are verified."""
        if not create:
            return
        from allauth.account.models import EmailAddress

        EmailAddress.objects.update_or_create(user=obj, email=obj.email, defaults={"verified": True, "primary": True})


class CompanyFactory(DjangoModelFactory):
    class Meta:
        model = Company

    name = factory.Sequence(lambda n: f"테스트상사 {n}")
    country = "KR"


def _account_number(n: int) -> str:
    alphabet = "0123456789ABCDEFGHJKLMNPRSTUVWXY"
    digits = []
    n += 1_000_000
    for _ in range(6):
        digits.append(alphabet[n % len(alphabet)])
        n //= len(alphabet)
    return "".join(reversed(digits))


class ShippingAccountFactory(DjangoModelFactory):
    class Meta:
        model = ShippingAccount

    number = factory.Sequence(_account_number)
    name = factory.Sequence(lambda n: f"발송 고객번호 {n}")
    company = factory.SubFactory(CompanyFactory)
    country = "KR"
    currency = "KRW"
    invoice_delivery = InvoiceDelivery.PAPERLESS
    billing_contact_phone = "02-1234-5678"
    billing_contact_email = "billing@carrier.example"


class BillingPlanFactory(DjangoModelFactory):
    class Meta:
        model = BillingPlan

    number = factory.Sequence(lambda n: f"P{n:07d}")
    name = factory.Sequence(lambda n: f"통합 플랜 {n}")
    company = factory.SubFactory(CompanyFactory)
    country = "KR"
    currency = "KRW"
    invoice_delivery = InvoiceDelivery.PAPERLESS
    billing_contact_phone = "02-1234-5678"


class MembershipFactory(DjangoModelFactory):
    class Meta:
        model = Membership
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    company = factory.SubFactory(CompanyFactory)
    role = Role.ADMINISTRATOR

    @factory.post_generation
    def accounts(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.accounts.set(extracted)

    @factory.post_generation
    def plans(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.plans.set(extracted)
