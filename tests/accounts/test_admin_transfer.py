"""R31: billing staff transfer administrator rights in Django admin."""

import pytest
from django.core import mail
from django.urls import reverse

from accounts import services
from accounts.models import AuditEvent, Membership, Role
from core.exceptions import ApplicationError
from tests.accounts.factories import CompanyFactory, MembershipFactory, ShippingAccountFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def company():
    company = CompanyFactory(name="가온물류")
    ShippingAccountFactory(company=company, number="AAA111")
    return company


@pytest.fixture
def previous(company):
    return MembershipFactory(
        company=company, role=Role.ADMINISTRATOR, user=UserFactory(username="leaving", email="leaving@example.com")
    ).user


@pytest.fixture
def successor():
    return UserFactory(username="successor", email="successor@example.com")


@pytest.fixture
def staff():
    return UserFactory(username="billingstaff", is_staff=True, is_superuser=True)


def _transfer(company, staff, **overrides):
    values = {
        "company": company,
        "previous_username": "leaving",
        "previous_email": "leaving@example.com",
        "new_username": "successor",
        "new_email": "successor@example.com",
        "previous_outcome": "manager",
        "actor": staff,
    }
    values.update(overrides)
    return services.administrator_transfer(**values)


def test_transfer_makes_the_new_user_administrator_and_demotes_the_previous(
    company, previous, successor, staff, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _transfer(company, staff)

    assert Membership.objects.get(company=company, user=successor).role == Role.ADMINISTRATOR
    demoted = Membership.objects.get(company=company, user=previous)
    assert demoted.role == Role.MANAGER
    assert [a.number for a in demoted.accounts.all()] == ["AAA111"]
    event = AuditEvent.objects.get(action="administrator.transferred")
    assert event.actor == staff and event.company == company
    assert event.data["previous"] == "leaving" and event.data["new"] == "successor"
    assert sorted(m.to[0] for m in mail.outbox) == ["leaving@example.com", "successor@example.com"]


def test_transfer_can_remove_the_previous_administrator(company, previous, successor, staff):
    _transfer(company, staff, previous_outcome="remove")
    assert not Membership.objects.filter(company=company, user=previous).exists()
    assert Membership.objects.get(company=company, user=successor).role == Role.ADMINISTRATOR


def test_transfer_promotes_an_existing_member(company, previous, successor, staff):
    MembershipFactory(company=company, user=successor, role=Role.VIEWER)
    _transfer(company, staff)
    assert Membership.objects.get(company=company, user=successor).role == Role.ADMINISTRATOR


@pytest.mark.parametrize(
    "overrides",
    [
        {"previous_email": "wrong@example.com"},
        {"previous_username": "nobody"},
        {"new_email": "wrong@example.com"},
        {"new_username": "nobody"},
        {"new_username": "leaving", "new_email": "leaving@example.com"},
        {"previous_outcome": "administrator"},
    ],
)
def test_transfer_refuses_pairs_that_do_not_match_and_writes_nothing(company, previous, successor, staff, overrides):
    with pytest.raises(ApplicationError):
        _transfer(company, staff, **overrides)
    assert Membership.objects.get(company=company, user=previous).role == Role.ADMINISTRATOR
    assert not Membership.objects.filter(user=successor).exists()
    assert not AuditEvent.objects.exists()


def test_transfer_requires_the_previous_user_to_administer_the_company(company, successor, staff):
    UserFactory(username="leaving", email="leaving@example.com")  # not a member
    with pytest.raises(ApplicationError, match="not an Administrator"):
        _transfer(company, staff)
    assert not Membership.objects.filter(user=successor).exists()


def test_staff_transfer_page_in_admin(client, company, previous, successor, staff):
    client.force_login(staff)
    url = reverse("admin_administrator_transfer")

    page = client.get(f"{url}?company={company.pk}")
    assert page.status_code == 200
    assert "Transfer administrator rights" in page.content.decode()

    response = client.post(
        url,
        {
            "company": company.pk,
            "previous_username": "leaving",
            "previous_email": "leaving@example.com",
            "new_username": "successor",
            "new_email": "successor@example.com",
            "previous_outcome": "viewer",
        },
    )
    assert response.status_code == 302
    assert Membership.objects.get(company=company, user=previous).role == Role.VIEWER


def test_staff_transfer_page_shows_a_mismatch_next_to_the_form(client, company, previous, successor, staff):
    client.force_login(staff)
    response = client.post(
        reverse("admin_administrator_transfer"),
        {
            "company": company.pk,
            "previous_username": "leaving",
            "previous_email": "other@example.com",
            "new_username": "successor",
            "new_email": "successor@example.com",
            "previous_outcome": "manager",
        },
    )
    assert response.status_code == 200
    assert "do not belong to one registered user" in response.content.decode()


def test_transfer_page_is_for_staff_only(client, company, previous):
    url = reverse("admin_administrator_transfer")
    anonymous = client.get(url)
    assert anonymous.status_code == 302  # to the admin log-in
    assert anonymous["Location"].startswith(reverse("admin:login"))
    client.force_login(previous)
    customer = client.get(url)
    assert customer.status_code == 302
    assert customer["Location"].startswith(reverse("admin:login"))
    plain_staff = UserFactory(username="plainstaff", is_staff=True)
    client.force_login(plain_staff)
    assert client.get(url).status_code == 403


def test_company_admin_action_opens_the_transfer_page_for_one_company(rf, company, staff):
    from django.contrib import admin

    from accounts.admin_transfer import transfer_administrator_action
    from accounts.models import Company

    request = rf.post("/admin/accounts/company/")
    request.user = staff
    response = transfer_administrator_action(
        admin.site._registry[Company], request, Company.objects.filter(pk=company.pk)
    )
    assert response.status_code == 302
    assert response.url == f"{reverse('admin_administrator_transfer')}?company={company.pk}"
