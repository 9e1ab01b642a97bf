"""No administration page answers 500 to bad input, and a refusal writes nothing."""

import pytest
from django.urls import reverse

from accounts.models import AuditEvent, Invitation, Membership, Role
from tests.accounts.factories import CompanyFactory, MembershipFactory, ShippingAccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(client):
    company = CompanyFactory()
    account = ShippingAccountFactory(company=company, number="AAA111")
    admin = MembershipFactory(company=company, role=Role.ADMINISTRATOR).user
    viewer = MembershipFactory(company=company, role=Role.VIEWER, accounts=[account])
    client.force_login(admin)
    return {"company": company, "account": account, "viewer": viewer}


GARBAGE = [
    {},
    {"username": "x" * 1000, "email": "not-an-email", "role": "emperor", "accounts": ["abc"], "plans": ["-1"]},
    {"username": "\x00", "email": "a@b.c", "role": "viewer", "accounts": ["999999"]},
]


@pytest.mark.parametrize("data", GARBAGE)
@pytest.mark.parametrize("name", ["manage:user_add", "manage:user_invite"])
def test_add_and_invite_forms_refuse_garbage(client, setup, name, data):
    before = (Membership.objects.count(), Invitation.objects.count(), AuditEvent.objects.count())
    response = client.post(reverse(name), data)
    assert response.status_code == 200
    assert response.context["form"].errors
    assert (Membership.objects.count(), Invitation.objects.count(), AuditEvent.objects.count()) == before


@pytest.mark.parametrize("data", GARBAGE)
def test_edit_form_refuses_garbage(client, setup, data):
    viewer = setup["viewer"]
    response = client.post(reverse("manage:user_edit", args=[viewer.pk]), data)
    assert response.status_code == 200
    viewer.refresh_from_db()
    assert viewer.role == Role.VIEWER


@pytest.mark.parametrize("number", ["%00", "a" * 300, "AAA111%27--", "..%2F..%2Fetc"])
def test_odd_numbers_in_urls_are_404(client, setup, number):
    assert client.get(f"/manage/accounts/{number}/xml/").status_code == 404
    assert client.post(f"/manage/plans/{number}/remove/").status_code == 404


def test_unknown_membership_is_404(client, setup):
    assert client.get(reverse("manage:user_edit", args=[999999])).status_code == 404
    assert client.post(reverse("manage:user_remove", args=[999999])).status_code == 404


def test_xml_toggle_with_odd_value_is_harmless(client, setup):
    response = client.post(reverse("manage:account_xml", args=["AAA111"]), {"enabled": "maybe"})
    assert response.status_code == 302
    setup["account"].refresh_from_db()
    assert setup["account"].xml_enrolled is True  # any non-empty value is "on", like a check box
