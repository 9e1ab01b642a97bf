"""accounts' services called directly: memberships and invitations (the journeys are in test_users.py)."""

import pytest
from allauth.account.models import EmailAddress

from accounts import services
from accounts.models import Membership, Role
from core.exceptions import ApplicationError
from tests.accounts.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_manager_service_refuses_administrator_role(company, manager, newcomer):
    with pytest.raises(ApplicationError):
        services.membership_add(
            actor=manager, company=company, username="newcomer", email="newcomer@example.com", role="administrator"
        )
    assert not Membership.objects.filter(user=newcomer).exists()


def test_concurrent_style_double_removal_keeps_one_administrator(company, admin_membership):
    second = MembershipFactory(company=company, role=Role.ADMINISTRATOR)
    services.membership_remove(actor=admin_membership.user, membership=second)
    with pytest.raises(ApplicationError):
        services.membership_remove(actor=admin_membership.user, membership=admin_membership)
    assert Membership.objects.filter(company=company, role=Role.ADMINISTRATOR).count() == 1


def test_unverified_address_does_not_accept_an_invitation(company, admin, accounts):
    services.invitation_create(
        actor=admin, company=company, email="x@example.com", role="viewer", accounts=[accounts[0]]
    )
    squatter = UserFactory(username="squatter", email="x@example.com")
    EmailAddress.objects.filter(user=squatter).update(verified=False)
    from allauth.account.signals import user_signed_up

    user_signed_up.send(sender=type(squatter), request=None, user=squatter)

    assert not Membership.objects.filter(user=squatter).exists()
