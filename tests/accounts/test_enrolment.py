"""Enrolment with an invoice (R25, R14, R1) and opening a new account (R26, R4)."""

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.models import (
    AuditEvent,
    Company,
    EnrolmentAttempt,
    InvoiceDelivery,
    Membership,
    Role,
    ShippingAccount,
)
from tests.accounts.conftest import invoice_values
from tests.accounts.factories import (
    BillingPlanFactory,
    CompanyFactory,
    MembershipFactory,
    ShippingAccountFactory,
    UserFactory,
)
from tests.invoices.factories import InvoiceFactory

pytestmark = pytest.mark.django_db

MISMATCH = "These values do not match an invoice"


def _snapshot():
    return (
        Company.objects.count(),
        Membership.objects.count(),
        ShippingAccount.objects.filter(company__isnull=False).count(),
        ShippingAccount.objects.filter(invoice_delivery=InvoiceDelivery.PAPERLESS).count(),
    )


@pytest.fixture
def enrol(client, enrolling_user):
    client.force_login(enrolling_user)

    def _post(data, follow=False):
        return client.post(reverse("enroll"), data, follow=follow)

    return _post


# --- success ----------------------------------------------------------------------------------


def test_enrolment_creates_company_with_user_as_administrator_and_declines_paper(
    enrol, enrolling_user, recent_invoice, unenrolled_account
):
    response = enrol(invoice_values(recent_invoice, company_name="한빛물산"))

    assert response.status_code == 302
    assert response.url == reverse("dashboard")
    unenrolled_account.refresh_from_db()
    company = unenrolled_account.company
    assert company.name == "한빛물산"
    assert Membership.objects.get(company=company).user == enrolling_user
    assert Membership.objects.get(company=company).role == Role.ADMINISTRATOR
    assert unenrolled_account.invoice_delivery == InvoiceDelivery.PAPERLESS
    assert unenrolled_account.paperless_since == timezone.localdate()
    event = AuditEvent.objects.get(action="enrolment.succeeded")
    assert event.company == company and event.actor == enrolling_user
    assert EnrolmentAttempt.objects.get().outcome == "succeeded"


def test_enrolled_user_sees_the_account_invoices_at_once(enrol, client, recent_invoice):
    enrol(invoice_values(recent_invoice))

    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    from invoices.selectors import invoice_list_visible

    assert list(invoice_list_visible(user=response.wsgi_request.user)) == [recent_invoice]


def test_company_name_defaults_to_the_account_name(enrol, recent_invoice, unenrolled_account):
    enrol(invoice_values(recent_invoice))
    unenrolled_account.refresh_from_db()
    assert unenrolled_account.company.name == "한빛물산 발송"


def test_enrolment_accepts_the_documented_tolerance(enrol, recent_invoice, unenrolled_account):
    response = enrol(
        invoice_values(
            recent_invoice,
            number=" 7k3-x9a ",
            invoice_number=" inv-2026-0001 ",
            amount="₩1,234,000",
            control_id=" qw12er ",
        )
    )
    assert response.status_code == 302
    unenrolled_account.refresh_from_db()
    assert unenrolled_account.company is not None


def test_administrator_enrolment_joins_the_company_they_administer(
    enrol, enrolling_user, recent_invoice, unenrolled_account
):
    company = CompanyFactory(name="기존회사")
    MembershipFactory(user=enrolling_user, company=company, role=Role.ADMINISTRATOR)

    enrol(invoice_values(recent_invoice))

    unenrolled_account.refresh_from_db()
    assert unenrolled_account.company == company
    assert Company.objects.count() == 1


def test_enrolling_a_plan_brings_every_account_of_the_plan(enrol, enrolling_user):
    plan = BillingPlanFactory(number="P7000001", company=None, invoice_delivery=InvoiceDelivery.PAPER)
    first = ShippingAccountFactory(company=None, plan=plan, invoice_delivery=InvoiceDelivery.PAPER)
    second = ShippingAccountFactory(company=None, plan=plan, invoice_delivery=InvoiceDelivery.PAPER)
    invoice = InvoiceFactory(
        account=None, plan=plan, invoice_date=timezone.localdate(), total=Decimal("55000"), currency="KRW"
    )

    response = enrol(invoice_values(invoice))

    assert response.status_code == 302
    plan.refresh_from_db()
    first.refresh_from_db()
    second.refresh_from_db()
    assert plan.company is not None
    assert first.company == plan.company == second.company
    assert {first.invoice_delivery, second.invoice_delivery, plan.invoice_delivery} == {InvoiceDelivery.PAPERLESS}


def test_usd_amount_must_match_to_the_cent(enrol):
    account = ShippingAccountFactory(company=None, country="US", currency="USD")
    invoice = InvoiceFactory(account=account, invoice_date=timezone.localdate(), total=Decimal("1234.50"))

    refused = enrol(invoice_values(invoice, amount="1,234.51"))
    assert MISMATCH in refused.content.decode()
    accepted = enrol(invoice_values(invoice, amount="$1,234.50"))
    assert accepted.status_code == 302
    account.refresh_from_db()
    assert account.company is not None
    assert EnrolmentAttempt.objects.filter(outcome="succeeded", number=account.number).count() == 1


# --- the 45-day window (Asia/Seoul calendar days) ---------------------------------------------


def test_invoice_from_day_45_is_accepted(enrol, unenrolled_account):
    invoice = InvoiceFactory(
        account=unenrolled_account, invoice_date=timezone.localdate() - datetime.timedelta(days=45)
    )
    response = enrol(invoice_values(invoice))
    assert response.status_code == 302
    unenrolled_account.refresh_from_db()
    assert unenrolled_account.company is not None
    assert Membership.objects.get(company=unenrolled_account.company).role == Role.ADMINISTRATOR


def test_invoice_from_day_46_is_refused_as_too_old(enrol, unenrolled_account):
    invoice = InvoiceFactory(
        account=unenrolled_account, invoice_date=timezone.localdate() - datetime.timedelta(days=46)
    )
    before = _snapshot()

    response = enrol(invoice_values(invoice))

    assert response.status_code == 200
    assert "more than 45 days old" in response.content.decode()
    assert _snapshot() == before


def test_window_counts_seoul_calendar_days_not_utc(enrol, unenrolled_account):
    # 15:30 UTC on 2026-03-01 is already 00:30 on 2026-03-02 in Seoul.
    with time_machine.travel(datetime.datetime(2026, 3, 1, 15, 30, tzinfo=datetime.UTC), tick=False):
        assert timezone.localdate() == datetime.date(2026, 3, 2)
        day_46 = InvoiceFactory(account=unenrolled_account, invoice_date=datetime.date(2026, 1, 15))
        day_45 = InvoiceFactory(account=unenrolled_account, invoice_date=datetime.date(2026, 1, 16))
        assert "more than 45 days old" in enrol(invoice_values(day_46)).content.decode()
        assert enrol(invoice_values(day_45)).status_code == 302
        unenrolled_account.refresh_from_db()
        assert unenrolled_account.company is not None


# --- refusals that reveal nothing -------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "wrong"),
    [
        ("invoice_number", "INV-2026-0002"),
        ("invoice_date", "2026-01-01"),
        ("amount", "1,234,001"),
        ("control_id", "QW12EX"),
        ("number", "7K3X9B"),  # an account number that does not exist
    ],
)
def test_each_wrong_value_gets_the_same_message_and_writes_nothing(enrol, recent_invoice, field, wrong):
    before = _snapshot()

    response = enrol(invoice_values(recent_invoice, **{field: wrong}))

    assert response.status_code == 200
    content = response.content.decode()
    assert MISMATCH in content
    assert _snapshot() == before
    assert "한빛물산" not in content
    attempt = EnrolmentAttempt.objects.get()
    assert attempt.outcome == "mismatch"
    assert AuditEvent.objects.filter(action="enrolment.refused", company=None).count() == 1


def test_invoice_of_another_account_does_not_match(enrol, recent_invoice):
    other = ShippingAccountFactory(company=None)
    response = enrol(invoice_values(recent_invoice, number=other.number))
    assert MISMATCH in response.content.decode()


def test_wrong_control_id_on_an_old_invoice_does_not_reveal_that_it_is_old(enrol, unenrolled_account):
    old = InvoiceFactory(account=unenrolled_account, invoice_date=timezone.localdate() - datetime.timedelta(days=90))
    content = enrol(invoice_values(old, control_id="WRONG1")).content.decode()
    assert MISMATCH in content
    assert "45 days old" not in content


def test_wrong_values_for_an_enrolled_account_do_not_reveal_that_it_is_enrolled(enrol):
    account = ShippingAccountFactory()  # enrolled by some company
    invoice = InvoiceFactory(account=account, invoice_date=timezone.localdate())
    content = enrol(invoice_values(invoice, amount="1")).content.decode()
    assert MISMATCH in content
    assert "already enrolled" not in content


# --- temporary numbers (R1) -------------------------------------------------------------------


def test_temporary_number_is_refused_on_shape_without_revealing_a_contact(enrol):
    before = _snapshot()
    response = enrol(
        {
            "number": "1234567890",
            "invoice_number": "X1",
            "invoice_date": "2026-11-01",
            "amount": "1000",
            "control_id": "C",
        }
    )
    content = response.content.decode()
    assert "temporary account number" in content
    assert "billing contact printed on your invoice" in content
    assert _snapshot() == before
    assert EnrolmentAttempt.objects.get().outcome == "temporary"


def test_temporary_number_with_matching_invoice_shows_the_billing_contact(enrol):
    account = ShippingAccountFactory(number="1234567890", company=None, billing_contact_phone="051-222-3333")
    invoice = InvoiceFactory(account=account, invoice_date=timezone.localdate())
    before = _snapshot()

    content = enrol(invoice_values(invoice)).content.decode()

    assert "temporary account number" in content
    assert "051-222-3333" in content
    assert _snapshot() == before


def test_temporary_number_with_wrong_values_hides_the_contact(enrol):
    account = ShippingAccountFactory(number="1234567890", company=None, billing_contact_phone="051-222-3333")
    invoice = InvoiceFactory(account=account, invoice_date=timezone.localdate())
    content = enrol(invoice_values(invoice, control_id="NOPE")).content.decode()
    assert "temporary account number" in content
    assert "051-222-3333" not in content


# --- already enrolled (R15) and the access request ---------------------------------------------


def test_already_enrolled_by_another_company_says_so_without_naming_it(enrol, client):
    owner = CompanyFactory(name="비밀상사")
    account = ShippingAccountFactory(company=owner)
    invoice = InvoiceFactory(account=account, invoice_date=timezone.localdate())
    before = _snapshot()

    content = enrol(invoice_values(invoice)).content.decode()

    assert "already enrolled in Billing Centre by another company" in content
    assert "비밀상사" not in content
    assert "Send an access request" in content
    assert _snapshot() == before
    account.refresh_from_db()
    assert account.company == owner


def test_access_request_emails_the_other_companys_administrators(
    enrol, client, enrolling_user, django_capture_on_commit_callbacks
):
    owner = CompanyFactory(name="비밀상사")
    admin_a = MembershipFactory(company=owner, role=Role.ADMINISTRATOR).user
    admin_b = MembershipFactory(company=owner, role=Role.ADMINISTRATOR).user
    MembershipFactory(company=owner, role=Role.VIEWER)
    account = ShippingAccountFactory(company=owner)
    invoice = InvoiceFactory(account=account, invoice_date=timezone.localdate())
    enrol(invoice_values(invoice))

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("enroll_access_request"), {"message": "재무팀입니다"}, follow=True)

    assert response.status_code == 200
    assert "Your request was sent" in response.content.decode()
    assert "비밀상사" not in response.content.decode()
    assert len(mail.outbox) == 1
    assert sorted(mail.outbox[0].to) == sorted([admin_a.email, admin_b.email])
    assert enrolling_user.username in mail.outbox[0].body
    assert "재무팀입니다" in mail.outbox[0].body
    event = AuditEvent.objects.get(action="enrolment.access_requested")
    assert event.company == owner


def test_access_request_is_rate_limited(enrol, client, django_capture_on_commit_callbacks):
    owner = CompanyFactory()
    MembershipFactory(company=owner, role=Role.ADMINISTRATOR)
    account = ShippingAccountFactory(company=owner)
    invoice = InvoiceFactory(account=account, invoice_date=timezone.localdate())
    enrol(invoice_values(invoice))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("enroll_access_request"), {})
    enrol(invoice_values(invoice))

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("enroll_access_request"), {}, follow=True)

    assert "already sent recently" in response.content.decode()
    assert len(mail.outbox) == 1


def test_access_request_without_proving_an_invoice_is_refused(client, enrolling_user):
    client.force_login(enrolling_user)
    response = client.post(reverse("enroll_access_request"), {}, follow=True)
    assert "Enter the invoice values first" in response.content.decode()
    assert mail.outbox == []


def test_already_enrolled_in_own_company_has_nothing_to_do(enrol, enrolling_user):
    company = CompanyFactory()
    MembershipFactory(user=enrolling_user, company=company, role=Role.ADMINISTRATOR)
    account = ShippingAccountFactory(company=company)
    invoice = InvoiceFactory(account=account, invoice_date=timezone.localdate())
    content = enrol(invoice_values(invoice)).content.decode()
    assert "already enrolled in your company" in content
    assert "Send an access request" not in content


# --- lock-out ---------------------------------------------------------------------------------


def test_five_failures_lock_the_user_out_for_fifteen_minutes(enrol, recent_invoice, unenrolled_account):
    for _ in range(5):
        assert MISMATCH in enrol(invoice_values(recent_invoice, amount="1")).content.decode()

    locked = enrol(invoice_values(recent_invoice)).content.decode()

    assert "locked for 15 minutes" in locked
    unenrolled_account.refresh_from_db()
    assert unenrolled_account.company is None
    assert EnrolmentAttempt.objects.filter(outcome="locked").count() == 1
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=16)):
        assert enrol(invoice_values(recent_invoice)).status_code == 302
    unenrolled_account.refresh_from_db()
    assert unenrolled_account.company is not None


def test_failures_on_one_number_lock_it_for_other_users(client, recent_invoice, unenrolled_account):
    for n in range(5):
        client.force_login(UserFactory(username=f"guesser{n}"))
        client.post(reverse("enroll"), invoice_values(recent_invoice, control_id=f"GUESS{n}"))

    client.force_login(UserFactory(username="legit"))
    content = client.post(reverse("enroll"), invoice_values(recent_invoice)).content.decode()

    assert "locked for 15 minutes" in content
    unenrolled_account.refresh_from_db()
    assert unenrolled_account.company is None


def test_every_attempt_is_audited(enrol, recent_invoice):
    enrol(invoice_values(recent_invoice, amount="1"))
    enrol(invoice_values(recent_invoice))
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions[:2] == ["enrolment.refused", "enrolment.succeeded"]


# --- pages ------------------------------------------------------------------------------------


def test_enrolment_page_needs_log_in(client):
    response = client.get(reverse("enroll"))
    assert response.status_code == 302
    assert reverse("account_login") in response.url


def test_enrolment_page_renders_the_form(client, enrolling_user):
    client.force_login(enrolling_user)
    response = client.get(reverse("enroll"))
    assert response.status_code == 200
    assert 'name="control_id"' in response.content.decode()
    assert 'type="date"' in response.content.decode()


@pytest.mark.parametrize(
    "data",
    [
        {},
        {
            "number": "x" * 500,
            "invoice_number": "y" * 500,
            "invoice_date": "not a date",
            "amount": "∞",
            "control_id": "",
        },
        {"number": "7K3X9A", "invoice_number": "I", "invoice_date": "9999-99-99", "amount": "1e9", "control_id": "C"},
        {"number": "\x00", "invoice_number": "\x00", "invoice_date": "2026-11-01", "amount": "1", "control_id": "C"},
        {
            "number": "7K3X9A",
            "invoice_number": "I\x00",
            "invoice_date": "2026-11-01",
            "amount": "1",
            "control_id": "C\x00",
        },
    ],
)
def test_bad_input_never_500s_and_writes_nothing(enrol, data):
    before = _snapshot()
    response = enrol(data)
    assert response.status_code == 200
    assert _snapshot() == before


# --- opening a new account (R26, R4) ------------------------------------------------------------

NEW_ACCOUNT = {
    "company_name": "새봄상회",
    "address": "서울특별시 중구 세종대로 110",
    "country": "KR",
    "contact_phone": "02-555-1234",
    "contact_email": "contact@saebom.example",
}


def test_opening_a_new_account_enrols_it_paperless(client, enrolling_user):
    client.force_login(enrolling_user)

    response = client.post(reverse("enroll_new_account"), NEW_ACCOUNT)

    assert response.status_code == 302
    account = ShippingAccount.objects.get()
    assert len(account.number) == 6 and account.number.isalnum() and not account.number.isdigit()
    assert account.number == account.number.upper()
    assert account.invoice_delivery == InvoiceDelivery.PAPERLESS
    assert account.paperless_since == timezone.localdate()
    assert account.currency == "KRW"
    assert account.company.name == "새봄상회"
    assert account.company.contact.email == "contact@saebom.example"
    assert Membership.objects.get(company=account.company).role == Role.ADMINISTRATOR
    assert AuditEvent.objects.filter(action="account.opened", company=account.company).exists()


@pytest.mark.parametrize(("country", "currency"), [("US", "USD"), ("JP", "JPY"), ("KR", "KRW")])
def test_new_account_currency_follows_the_country(client, enrolling_user, country, currency):
    client.force_login(enrolling_user)
    client.post(reverse("enroll_new_account"), {**NEW_ACCOUNT, "country": country})
    assert ShippingAccount.objects.get().currency == currency


def test_new_account_numbers_are_unique(client, enrolling_user):
    client.force_login(enrolling_user)
    for _ in range(5):
        client.post(reverse("enroll_new_account"), NEW_ACCOUNT)
    numbers = list(ShippingAccount.objects.values_list("number", flat=True))
    assert len(numbers) == len(set(numbers)) == 5


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("country", "ZZ"),
        ("contact_phone", "call me"),
        ("contact_email", "nope"),
        ("company_name", "   "),
        ("address", ""),
    ],
)
def test_new_account_form_refuses_bad_input_and_writes_nothing(client, enrolling_user, field, value):
    client.force_login(enrolling_user)
    response = client.post(reverse("enroll_new_account"), {**NEW_ACCOUNT, field: value})
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert ShippingAccount.objects.count() == 0
    assert Company.objects.count() == 0


def test_administrator_of_two_companies_chooses_which_one_the_account_joins(
    enrol, enrolling_user, recent_invoice, unenrolled_account
):
    first, second = CompanyFactory(name="첫째"), CompanyFactory(name="둘째")
    MembershipFactory(user=enrolling_user, company=first, role=Role.ADMINISTRATOR)
    MembershipFactory(user=enrolling_user, company=second, role=Role.ADMINISTRATOR)
    foreign = CompanyFactory(name="남의회사")

    refused = enrol(invoice_values(recent_invoice, company=foreign.pk))
    assert refused.status_code == 200
    assert refused.context["form"].errors["company"]
    enrol(invoice_values(recent_invoice, company=second.pk))

    unenrolled_account.refresh_from_db()
    assert unenrolled_account.company == second
