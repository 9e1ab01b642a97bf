"""The scope selectors: what each role, another company's user and an anonymous visitor may see.

The ``world`` fixture (tests/accounts/conftest.py): company A with two accounts and a plan, company B
with one account; a user per role. The role/action table is in test_access.py.
"""

import pytest
from django.contrib.auth.models import AnonymousUser

from accounts.selectors import account_list_visible, plan_list_visible
from invoices.selectors import invoice_get_visible, invoice_list_visible, shipment_list_visible
from tests.accounts.factories import CompanyFactory
from tests.invoices.factories import ShipmentFactory

pytestmark = pytest.mark.django_db


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
