"""The role matrix over every administration page and action (R28, DESIGN.md Roles).

Four roles of one company, an Administrator of another company and an anonymous
visitor. Outside the user's scope: 404; in scope but the role forbids: 403.
"""

import pytest
from django.urls import reverse

from accounts.models import Role
from tests.accounts.factories import BillingPlanFactory, CompanyFactory, MembershipFactory, ShippingAccountFactory

pytestmark = pytest.mark.django_db

ROLES = ["administrator", "manager", "payer", "viewer", "other_company", "anonymous"]


@pytest.fixture
def world():
    company = CompanyFactory(name="가온물류")
    in_scope = ShippingAccountFactory(company=company, number="AAA111")
    out_of_scope = ShippingAccountFactory(company=company, number="BBB222")
    plan = BillingPlanFactory(company=company, number="P1000001")
    users = {
        "administrator": MembershipFactory(company=company, role=Role.ADMINISTRATOR).user,
        "manager": MembershipFactory(company=company, role=Role.MANAGER, accounts=[in_scope], plans=[plan]).user,
        "payer": MembershipFactory(company=company, role=Role.PAYER, accounts=[in_scope]).user,
        "viewer": MembershipFactory(company=company, role=Role.VIEWER, accounts=[in_scope]).user,
        "other_company": MembershipFactory(role=Role.ADMINISTRATOR).user,
    }
    payer_membership = users["payer"].memberships.get()
    admin_membership = users["administrator"].memberships.get()
    return {
        "company": company,
        "in_scope": in_scope,
        "out_of_scope": out_of_scope,
        "plan": plan,
        "users": users,
        "payer_membership": payer_membership,
        "admin_membership": admin_membership,
    }


def _as(client, world, role):
    if role != "anonymous":
        client.force_login(world["users"][role])
    return client


def _company(world):
    return f"?company={world['company'].pk}"


# page → expected status per role (302 = to the log-in page)
LIST_PAGES = {
    "manage:accounts": [200, 200, 403, 403, 404, 302],
    "manage:plans": [200, 200, 403, 403, 404, 302],
    "manage:users": [200, 200, 403, 403, 404, 302],
    "manage:activity": [200, 403, 403, 403, 404, 302],
    "manage:account_add": [200, 403, 403, 403, 404, 302],
    "manage:user_add": [200, 200, 403, 403, 404, 302],
    "manage:user_invite": [200, 200, 403, 403, 404, 302],
}


@pytest.mark.parametrize("name", LIST_PAGES)
@pytest.mark.parametrize("index", range(len(ROLES)), ids=ROLES)
def test_company_pages_follow_the_role_matrix(client, world, name, index):
    role = ROLES[index]
    response = _as(client, world, role).get(reverse(name) + _company(world))
    assert response.status_code == LIST_PAGES[name][index]
    if response.status_code == 302:
        assert reverse("account_login") in response.url


OBJECT_ACTIONS = {
    # (url name, object) → statuses for GET and POST per role
    ("manage:account_xml", "in_scope"): [200, 403, 403, 403, 404, 302],
    ("manage:account_remove", "in_scope"): [200, 403, 403, 403, 404, 302],
    ("manage:account_xml", "out_of_scope"): [200, 404, 404, 404, 404, 302],
    ("manage:account_remove", "out_of_scope"): [200, 404, 404, 404, 404, 302],
    ("manage:plan_xml", "plan"): [200, 403, 404, 404, 404, 302],
    ("manage:plan_remove", "plan"): [200, 403, 404, 404, 404, 302],
}


@pytest.mark.parametrize(("name", "target"), OBJECT_ACTIONS)
@pytest.mark.parametrize("index", range(len(ROLES)), ids=ROLES)
@pytest.mark.parametrize("method", ["get", "post"])
def test_account_and_plan_actions_follow_the_role_matrix(client, world, name, target, index, method):
    role = ROLES[index]
    obj = world[target]
    response = getattr(_as(client, world, role), method)(reverse(name, args=[obj.number]))
    expected = OBJECT_ACTIONS[(name, target)][index]
    if method == "post" and expected == 200:
        expected = 302  # done, back to the list
    assert response.status_code == expected
    obj.refresh_from_db()
    if expected != 302 or role == "anonymous":
        assert obj.company == world["company"]
        assert obj.xml_enrolled is False


MEMBER_ACTIONS = {
    ("manage:user_edit", "payer_membership"): [200, 200, 403, 403, 404, 302],
    ("manage:user_remove", "payer_membership"): [200, 200, 403, 403, 404, 302],
    ("manage:user_edit", "admin_membership"): [200, 404, 403, 403, 404, 302],
    ("manage:user_remove", "admin_membership"): [200, 404, 403, 403, 404, 302],
}


@pytest.mark.parametrize(("name", "target"), MEMBER_ACTIONS)
@pytest.mark.parametrize("index", range(len(ROLES)), ids=ROLES)
def test_user_actions_follow_the_role_matrix(client, world, name, target, index):
    role = ROLES[index]
    membership = world[target]
    response = _as(client, world, role).get(reverse(name, args=[membership.pk]))
    assert response.status_code == MEMBER_ACTIONS[(name, target)][index]


@pytest.mark.parametrize("index", range(len(ROLES)), ids=ROLES)
def test_removing_a_user_follows_the_role_matrix(client, world, index):
    role = ROLES[index]
    membership = world["payer_membership"]
    response = _as(client, world, role).post(reverse("manage:user_remove", args=[membership.pk]))
    removed = not type(membership).objects.filter(pk=membership.pk).exists()
    assert removed == (role in ("administrator", "manager"))
    assert response.status_code == (
        302
        if role in ("administrator", "manager", "anonymous")
        else [403, 403, 404][["payer", "viewer", "other_company"].index(role)]
    )


def test_user_without_any_company_is_sent_to_enrolment(client):
    from tests.accounts.factories import UserFactory

    client.force_login(UserFactory())
    response = client.get(reverse("manage:accounts"))
    assert response.status_code == 302
    assert response.url == reverse("enroll")


@pytest.mark.parametrize("value", ["abc", "999999", "-1", "1;drop"])
def test_unknown_company_parameter_is_404(client, world, value):
    client.force_login(world["users"]["administrator"])
    assert client.get(reverse("manage:accounts") + f"?company={value}").status_code == 404


def test_manager_sees_only_their_accounts_read_only(client, world):
    client.force_login(world["users"]["manager"])
    content = client.get(reverse("manage:accounts") + _company(world)).content.decode()
    assert "AAA111" in content
    assert "BBB222" not in content
    assert "Add account" not in content
    assert "Edit XML enrolment" not in content


def test_administrator_sees_every_account_with_actions(client, world):
    client.force_login(world["users"]["administrator"])
    content = client.get(reverse("manage:accounts") + _company(world)).content.decode()
    assert "AAA111" in content and "BBB222" in content
    assert "Edit XML enrolment" in content and "Remove from company" in content
