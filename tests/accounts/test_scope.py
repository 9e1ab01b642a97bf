"""The one place that decides access: scope selectors and the role/action table.

Each of the four roles, a user of another company and an anonymous visitor.
"""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404

from accounts.access import Action, require, user_can
from accounts.models import Role
from accounts.selectors import account_list_visible, plan_list_visible
from invoices.selectors import invoice_get_visible, invoice_list_visible, shipment_list_visible
from tests.factories import (
    BillingPlanFactory,
    CompanyFactory,
    InvoiceFactory,
    MembershipFactory,
    ShipmentFactory,
    ShippingAccountFactory,
)

pytestmark = pytest.mark.django_db


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


EXPECTED_INVOICES = {
    "administrator": {"acc1", "acc2", "plan"},
    "manager": {"acc1", "plan"},
    "payer": {"acc2"},
    "viewer": {"acc1"},
    "outsider": {"foreign"},
}


@pytest.mark.parametrize("who", EXPECTED_INVOICES)
def test_each_role_sees_exactly_its_scope(world, who):
    user = world["users"][who]
    visible = set(invoice_list_visible(user=user).values_list("number", flat=True))
    expected = {world["invoices"][key].number for key in EXPECTED_INVOICES[who]}
    assert visible == expected


def test_anonymous_sees_nothing(world):
    anonymous = AnonymousUser()
    assert not invoice_list_visible(user=anonymous).exists()
    assert not account_list_visible(user=anonymous).exists()
    assert not plan_list_visible(user=anonymous).exists()
    assert invoice_get_visible(user=anonymous, number=world["invoices"]["acc1"].number) is None


def test_invoice_of_another_company_is_invisible_by_number(world):
    admin = world["users"]["administrator"]
    assert invoice_get_visible(user=admin, number=world["invoices"]["foreign"].number) is None
    assert invoice_get_visible(user=admin, number=world["invoices"]["acc1"].number) is not None


def test_assignment_of_an_account_that_left_the_company_grants_nothing(world):
    """An account moved to another company stops being visible through old assignments."""
    viewer = world["users"]["viewer"]
    acc1 = world["accounts"]["acc1"]
    acc1.company = CompanyFactory()
    acc1.save()
    assert not invoice_list_visible(user=viewer).exists()


def test_shipments_follow_account_scope(world):
    mine = ShipmentFactory(account=world["accounts"]["acc1"])
    ShipmentFactory(account=world["accounts"]["acc2"])
    assert list(shipment_list_visible(user=world["users"]["viewer"])) == [mine]


ROLE_ACTIONS = {
    "administrator": set(Action),
    "manager": {
        Action.VIEW,
        Action.DOWNLOAD,
        Action.PAY,
        Action.DISPUTE,
        Action.WALLET,
        Action.AUTOPAY,
        Action.MANAGE_USERS,
    },
    "payer": {Action.VIEW, Action.DOWNLOAD, Action.PAY, Action.DISPUTE, Action.WALLET},
    "viewer": {Action.VIEW, Action.DOWNLOAD},
}


@pytest.mark.parametrize("who", ROLE_ACTIONS)
@pytest.mark.parametrize("action", list(Action))
def test_role_allows_exactly_its_actions_on_an_account_in_scope(world, who, action):
    user = world["users"][who]
    account = world["accounts"]["acc1"] if who != "payer" else world["accounts"]["acc2"]
    assert user_can(user, action, account=account) is (action in ROLE_ACTIONS[who])


@pytest.mark.parametrize("who", ["manager", "payer", "viewer"])
def test_out_of_scope_account_in_own_company_answers_404(world, who):
    user = world["users"][who]
    out_of_scope = world["accounts"]["acc2"] if who != "payer" else world["accounts"]["acc1"]
    with pytest.raises(Http404):
        require(user, Action.VIEW, account=out_of_scope)


def test_another_company_answers_404_even_for_an_administrator(world):
    with pytest.raises(Http404):
        require(world["users"]["outsider"], Action.VIEW, account=world["accounts"]["acc1"])
    with pytest.raises(Http404):
        require(world["users"]["administrator"], Action.VIEW, account=world["accounts"]["foreign"])


def test_in_scope_but_forbidden_answers_403(world):
    with pytest.raises(PermissionDenied):
        require(world["users"]["viewer"], Action.PAY, account=world["accounts"]["acc1"])


def test_plan_scope_uses_plan_assignment(world):
    plan = world["plan"]
    assert user_can(world["users"]["manager"], Action.PAY, plan=plan)
    assert not user_can(world["users"]["viewer"], Action.VIEW, plan=plan)
    assert user_can(world["users"]["administrator"], Action.VIEW, plan=plan)


def test_company_level_actions_follow_role(world):
    company = world["company"]
    assert user_can(world["users"]["administrator"], Action.MANAGE_ACCOUNTS, company=company)
    assert not user_can(world["users"]["manager"], Action.MANAGE_ACCOUNTS, company=company)
    assert user_can(world["users"]["manager"], Action.MANAGE_USERS, company=company)
    assert not user_can(world["users"]["outsider"], Action.VIEW, company=company)
