"""My Accounts and My Plans: AutoPay column, XML enrolment, removal, Add account (R17-R18, R27)."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, Membership, Role, ShippingAccount
from disputes.models import Dispute, DisputeStatus
from payments.models import AutoPaySchedule
from tests.accounts.conftest import invoice_values
from tests.accounts.factories import BillingPlanFactory, CompanyFactory, MembershipFactory, ShippingAccountFactory
from tests.invoices.factories import InvoiceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def company():
    return CompanyFactory(name="가온물류")


@pytest.fixture
def admin(company):
    return MembershipFactory(company=company, role=Role.ADMINISTRATOR).user


@pytest.fixture
def account(company):
    return ShippingAccountFactory(company=company, number="AAA111")


def _autopay(*, company, account=None, plan=None, status="active"):
    return AutoPaySchedule.objects.create(
        company=company,
        account=account,
        plan=plan,
        amount_mode="full",
        timing="days_before_due",
        days_before_due=3,
        start_date=timezone.localdate(),
        status=status,
        consent_at=timezone.now(),
        terms_version="2026-01",
    )


def _dispute(*, company, invoice, user, status=DisputeStatus.SUBMITTED):
    return Dispute.objects.create(
        reference=f"D{Dispute.objects.count() + 1:06d}", company=company, invoice=invoice, filed_by=user, status=status
    )


def test_autopay_column_counts_only_live_schedules(client, company, admin, account):
    cancelled_only = ShippingAccountFactory(company=company, number="CCC333")
    _autopay(company=company, account=account)
    _autopay(company=company, account=cancelled_only, status="cancelled")
    client.force_login(admin)

    response = client.get(reverse("manage:accounts"))

    rows = {a.number: a.autopay_live for a in response.context["accounts"]}
    assert rows == {"AAA111": 1, "CCC333": 0}


def test_account_list_issues_a_constant_number_of_queries(client, company, admin, django_assert_max_num_queries):
    for _n in range(3):
        ShippingAccountFactory(company=company)
    client.force_login(admin)
    with django_assert_max_num_queries(15) as few:
        client.get(reverse("manage:accounts"))
    for _n in range(10):
        acc = ShippingAccountFactory(company=company)
        _autopay(company=company, account=acc)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("manage:accounts"))


def test_plan_list_shows_the_accounts_each_plan_groups_in_constant_queries(
    client, company, admin, django_assert_max_num_queries
):
    plan = BillingPlanFactory(company=company, number="P1000001")
    ShippingAccountFactory(company=company, plan=plan, number="PLA001")
    client.force_login(admin)
    with django_assert_max_num_queries(15) as few:
        response = client.get(reverse("manage:plans"))
    assert "PLA001" in response.content.decode()
    for _n in range(5):
        other = BillingPlanFactory(company=company)
        ShippingAccountFactory(company=company, plan=other)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("manage:plans"))


def test_xml_enrolment_is_turned_on_and_off_with_confirmation_and_audited(client, admin, account):
    client.force_login(admin)
    confirm = client.get(reverse("manage:account_xml", args=[account.number]))
    assert "Turn XML invoices on" in confirm.content.decode()

    client.post(reverse("manage:account_xml", args=[account.number]), {"enabled": "on"})
    account.refresh_from_db()
    assert account.xml_enrolled is True
    client.post(reverse("manage:account_xml", args=[account.number]), {})
    account.refresh_from_db()
    assert account.xml_enrolled is False
    events = AuditEvent.objects.filter(action="account.xml_enrolment_changed").order_by("id")
    assert [e.data["xml_enrolled"] for e in events] == [True, False]


def test_plan_xml_enrolment_is_audited(client, company, admin):
    plan = BillingPlanFactory(company=company)
    client.force_login(admin)
    client.post(reverse("manage:plan_xml", args=[plan.number]), {"enabled": "on"})
    plan.refresh_from_db()
    assert plan.xml_enrolled is True
    assert AuditEvent.objects.filter(action="plan.xml_enrolment_changed", company=company).exists()


def test_removing_an_account_ends_assignments_and_is_audited(client, company, admin, account):
    viewer = MembershipFactory(company=company, role=Role.VIEWER, accounts=[account])
    client.force_login(admin)

    response = client.post(reverse("manage:account_remove", args=[account.number]))

    assert response.status_code == 302
    account.refresh_from_db()
    assert account.company is None
    assert list(viewer.accounts.all()) == []
    assert AuditEvent.objects.filter(action="account.removed", company=company).exists()


def test_removal_is_refused_while_autopay_is_live(client, company, admin, account):
    _autopay(company=company, account=account)
    client.force_login(admin)

    page = client.get(reverse("manage:account_remove", args=[account.number])).content.decode()
    response = client.post(reverse("manage:account_remove", args=[account.number]))

    assert "AutoPay is set up for it" in page
    assert response.status_code == 409
    assert "AutoPay is set up for it" in response.content.decode()
    account.refresh_from_db()
    assert account.company == company
    assert not AuditEvent.objects.filter(action="account.removed").exists()


def _assert_removed(response, company, account):
    """The account left the company: the list says so and no longer shows it, the event is audited."""
    account.refresh_from_db()
    assert account.company is None
    assert f"{account.number} was removed from the company." in response.content.decode()
    assert account.number not in [row.number for row in response.context["accounts"]]
    assert AuditEvent.objects.filter(action="account.removed", company=company, target_id=str(account.pk)).count() == 1


def test_removal_is_allowed_once_autopay_is_cancelled(client, company, admin, account):
    _autopay(company=company, account=account, status="cancelled")
    client.force_login(admin)
    response = client.post(reverse("manage:account_remove", args=[account.number]), follow=True)
    assert response.redirect_chain[-1] == (reverse("manage:accounts") + f"?company={company.pk}", 302)
    _assert_removed(response, company, account)


def test_removal_is_refused_while_a_dispute_is_open(client, company, admin, account):
    invoice = InvoiceFactory(account=account)
    _dispute(company=company, invoice=invoice, user=admin, status=DisputeStatus.UNDER_REVIEW)
    client.force_login(admin)

    response = client.post(reverse("manage:account_remove", args=[account.number]))

    assert response.status_code == 409
    assert "dispute" in response.content.decode()
    account.refresh_from_db()
    assert account.company == company


def test_a_decided_dispute_does_not_block_removal(client, company, admin, account):
    invoice = InvoiceFactory(account=account)
    _dispute(company=company, invoice=invoice, user=admin, status=DisputeStatus.REJECTED)
    client.force_login(admin)
    response = client.post(reverse("manage:account_remove", args=[account.number]), follow=True)
    assert response.redirect_chain[-1][1] == 302
    _assert_removed(response, company, account)
    assert Dispute.objects.get().invoice == invoice  # the decided dispute is kept, with its invoice


def test_plan_removal_is_refused_while_its_autopay_is_live(client, company, admin):
    plan = BillingPlanFactory(company=company)
    _autopay(company=company, plan=plan)
    client.force_login(admin)
    assert client.post(reverse("manage:plan_remove", args=[plan.number])).status_code == 409
    plan.refresh_from_db()
    assert plan.company == company


def test_add_account_with_a_recent_invoice_joins_the_company(
    client, company, admin, recent_invoice, unenrolled_account
):
    client.force_login(admin)

    response = client.post(reverse("manage:account_add") + f"?company={company.pk}", invoice_values(recent_invoice))

    assert response.status_code == 302
    unenrolled_account.refresh_from_db()
    assert unenrolled_account.company == company
    assert Membership.objects.filter(company=company).count() == 1


def test_add_account_refuses_an_old_invoice_with_the_enrolment_checks(client, company, admin, unenrolled_account):
    old = InvoiceFactory(account=unenrolled_account, invoice_date=timezone.localdate() - datetime.timedelta(days=46))
    client.force_login(admin)

    response = client.post(reverse("manage:account_add"), invoice_values(old))

    assert "more than 45 days old" in response.content.decode()
    unenrolled_account.refresh_from_db()
    assert unenrolled_account.company is None
    event = AuditEvent.objects.get(action="enrolment.refused")
    assert event.company == company


def test_add_account_mismatch_is_the_same_generic_message(client, company, admin, recent_invoice):
    client.force_login(admin)
    response = client.post(reverse("manage:account_add"), invoice_values(recent_invoice, amount="999"))
    assert "These values do not match an invoice" in response.content.decode()
    assert ShippingAccount.objects.filter(company=company).count() == 0


def test_add_plan_brings_its_accounts(client, company, admin):
    plan = BillingPlanFactory(company=None, number="P2000002")
    member = ShippingAccountFactory(company=None, plan=plan)
    invoice = InvoiceFactory(
        account=None, plan=plan, invoice_date=timezone.localdate(), total=Decimal("9900"), currency="KRW"
    )
    client.force_login(admin)

    response = client.post(reverse("manage:account_add"), invoice_values(invoice))

    assert response.status_code == 302
    assert response.url.startswith(reverse("manage:plans"))
    member.refresh_from_db()
    assert member.company == company
