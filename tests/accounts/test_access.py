"""The one place that decides access (accounts/access.py): the role/action table.

Each of the four roles and a user of another company, in the ``world`` of tests/accounts/conftest.py;
what each may see (the scope selectors) is in test_selectors.py.
"""

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from accounts.access import Action, require, user_can

pytestmark = pytest.mark.django_db


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
