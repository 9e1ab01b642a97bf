"""User management: add, invite, edit, remove; Managers' limits; the last Administrator (R28-R30)."""

import pytest
from allauth.account.models import EmailAddress
from allauth.account.signals import email_confirmed
from django.core import mail
from django.urls import reverse

from accounts import services
from accounts.models import AuditEvent, Invitation, Membership, Role
from tests.accounts.factories import (
    BillingPlanFactory,
    CompanyFactory,
    MembershipFactory,
    ShippingAccountFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

NO_MATCH = "No registered user has this user ID with this e-mail address"


def _add(client, data):
    return client.post(reverse("manage:user_add"), data)


def test_administrator_adds_a_registered_user_with_role_and_scope(
    client, admin, accounts, newcomer, django_capture_on_commit_callbacks
):
    client.force_login(admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = _add(
            client,
            {"username": "NewComer", "email": "NEWCOMER@example.com", "role": "payer", "accounts": [accounts[0].pk]},
        )

    assert response.status_code == 302
    membership = Membership.objects.get(user=newcomer)
    assert membership.role == Role.PAYER
    assert list(membership.accounts.all()) == [accounts[0]]
    assert AuditEvent.objects.get(action="membership.added").data["accounts"] == ["AAA111"]
    assert mail.outbox[0].to == ["newcomer@example.com"]


@pytest.mark.parametrize(
    ("username", "email"),
    [("newcomer", "someone.else@example.com"), ("nobody", "newcomer@example.com"), ("nobody", "nobody@example.com")],
)
def test_user_id_and_email_must_belong_to_the_same_user_with_one_message(
    client, admin, accounts, newcomer, username, email
):
    other = UserFactory(username="someoneelse", email="someone.else@example.com")
    client.force_login(admin)

    response = _add(client, {"username": username, "email": email, "role": "viewer", "accounts": [accounts[0].pk]})

    assert response.status_code == 200
    assert NO_MATCH in response.content.decode()
    assert not Membership.objects.filter(user__in=[newcomer, other]).exists()


def test_every_role_but_administrator_needs_an_account_or_plan(client, admin, newcomer):
    client.force_login(admin)
    response = _add(client, {"username": "newcomer", "email": "newcomer@example.com", "role": "viewer"})
    assert "Choose at least one account or plan" in response.content.decode()
    assert not Membership.objects.filter(user=newcomer).exists()


def test_administrator_may_be_added_without_accounts(client, admin, newcomer):
    client.force_login(admin)
    _add(client, {"username": "newcomer", "email": "newcomer@example.com", "role": "administrator"})
    assert Membership.objects.get(user=newcomer).role == Role.ADMINISTRATOR


def test_existing_member_is_not_added_twice(client, company, admin, accounts):
    member = MembershipFactory(company=company, role=Role.VIEWER, accounts=[accounts[0]]).user
    client.force_login(admin)
    response = _add(
        client, {"username": member.username, "email": member.email, "role": "payer", "accounts": [accounts[0].pk]}
    )
    assert "already a member" in response.content.decode()
    assert Membership.objects.get(user=member).role == Role.VIEWER


def test_manager_cannot_grant_administrator(client, manager, accounts, newcomer):
    client.force_login(manager)
    form_page = client.get(reverse("manage:user_add")).content.decode()
    response = _add(client, {"username": "newcomer", "email": "newcomer@example.com", "role": "administrator"})
    assert 'value="administrator"' not in form_page
    assert response.status_code == 200
    assert not Membership.objects.filter(user=newcomer).exists()


def test_manager_assigns_only_accounts_they_manage(client, manager, accounts, newcomer):
    client.force_login(manager)
    refused = _add(
        client,
        {"username": "newcomer", "email": "newcomer@example.com", "role": "viewer", "accounts": [accounts[1].pk]},
    )
    assert refused.status_code == 200
    assert not Membership.objects.filter(user=newcomer).exists()
    accepted = _add(
        client,
        {"username": "newcomer", "email": "newcomer@example.com", "role": "viewer", "accounts": [accounts[0].pk]},
    )
    assert accepted.status_code == 302
    assert Membership.objects.get(user=newcomer).role == Role.VIEWER


def test_manager_lists_only_users_within_their_accounts(client, company, manager, accounts):
    inside = MembershipFactory(company=company, role=Role.VIEWER, accounts=[accounts[0]]).user
    outside = MembershipFactory(company=company, role=Role.VIEWER, accounts=[accounts[1]]).user
    client.force_login(manager)
    content = client.get(reverse("manage:users")).content.decode()
    assert inside.username in content
    assert outside.username not in content
    other = Membership.objects.get(user=outside)
    assert client.get(reverse("manage:user_edit", args=[other.pk])).status_code == 404


def test_user_list_shows_id_name_email_role_scope_and_last_login(client, company, admin, accounts):
    viewer = MembershipFactory(company=company, role=Role.VIEWER, accounts=[accounts[1]]).user
    client.force_login(admin)
    content = client.get(reverse("manage:users")).content.decode()
    for text in (viewer.username, viewer.email, viewer.display_name, "View only", "BBB222", "Never"):
        assert text in content


def test_single_administrator_gets_the_second_administrator_notice(client, company, admin):
    client.force_login(admin)
    assert "recommend adding a second Administrator" in client.get(reverse("manage:users")).content.decode()
    MembershipFactory(company=company, role=Role.ADMINISTRATOR)
    assert "recommend adding a second Administrator" not in client.get(reverse("manage:users")).content.decode()


def test_last_administrator_cannot_be_demoted(client, admin_membership, admin, accounts):
    client.force_login(admin)
    response = client.post(
        reverse("manage:user_edit", args=[admin_membership.pk]), {"role": "viewer", "accounts": [accounts[0].pk]}
    )
    assert "last Administrator cannot be demoted" in response.content.decode()
    admin_membership.refresh_from_db()
    assert admin_membership.role == Role.ADMINISTRATOR


def test_last_administrator_cannot_be_removed(client, admin_membership, admin):
    client.force_login(admin)
    response = client.post(reverse("manage:user_remove", args=[admin_membership.pk]))
    assert response.status_code == 409
    assert "last Administrator cannot be removed" in response.content.decode()
    assert Membership.objects.filter(pk=admin_membership.pk).exists()


def test_one_of_two_administrators_can_be_demoted(client, company, admin_membership, admin, accounts):
    MembershipFactory(company=company, role=Role.ADMINISTRATOR)
    client.force_login(admin)
    response = client.post(
        reverse("manage:user_edit", args=[admin_membership.pk]), {"role": "manager", "accounts": [accounts[0].pk]}
    )
    assert response.status_code == 302
    admin_membership.refresh_from_db()
    assert admin_membership.role == Role.MANAGER
    event = AuditEvent.objects.get(action="membership.updated")
    assert event.data["before"]["role"] == "administrator" and event.data["after"]["role"] == "manager"


def test_editing_role_and_scope(client, company, admin, accounts):
    membership = MembershipFactory(company=company, role=Role.VIEWER, accounts=[accounts[0]])
    plan = BillingPlanFactory(company=company)
    client.force_login(admin)
    client.post(
        reverse("manage:user_edit", args=[membership.pk]),
        {"role": "payer", "accounts": [accounts[1].pk], "plans": [plan.pk]},
    )
    membership.refresh_from_db()
    assert membership.role == Role.PAYER
    assert list(membership.accounts.all()) == [accounts[1]]
    assert list(membership.plans.all()) == [plan]


def test_accounts_of_another_company_cannot_be_assigned(client, company, admin, newcomer):
    foreign = ShippingAccountFactory()
    client.force_login(admin)
    response = _add(
        client, {"username": "newcomer", "email": "newcomer@example.com", "role": "viewer", "accounts": [foreign.pk]}
    )
    assert response.status_code == 200
    assert not Membership.objects.filter(user=newcomer).exists()


def test_removing_a_user_is_audited(client, company, admin, accounts):
    membership = MembershipFactory(company=company, role=Role.VIEWER, accounts=[accounts[0]])
    client.force_login(admin)
    client.post(reverse("manage:user_remove", args=[membership.pk]))
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert AuditEvent.objects.get(action="membership.removed").target_label == membership.user.username


# --- invitations by e-mail -----------------------------------------------------------------------


def test_invitation_is_emailed_and_accepted_when_the_address_is_confirmed(
    client, company, admin, accounts, django_capture_on_commit_callbacks
):
    client.force_login(admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("manage:user_invite"),
            {"email": "Future@Example.com", "role": "viewer", "accounts": [accounts[0].pk]},
        )
    assert response.status_code == 302
    assert mail.outbox[0].to == ["Future@Example.com"]
    assert "Future@Example.com" in client.get(reverse("manage:users")).content.decode()

    future = UserFactory(username="future", email="future@example.com")  # signs up later
    address = EmailAddress.objects.get(user=future)
    email_confirmed.send(sender=EmailAddress, request=None, email_address=address)

    membership = Membership.objects.get(user=future, company=company)
    assert membership.role == Role.VIEWER
    assert list(membership.accounts.all()) == [accounts[0]]
    assert Invitation.objects.get().accepted_by == future
    assert AuditEvent.objects.filter(action="invitation.accepted", company=company).exists()


def test_registered_user_with_verified_address_joins_on_log_in(client, company, admin, accounts, password):
    existing = UserFactory(username="existing", email="existing@example.com")
    services.invitation_create(
        actor=admin, company=company, email="existing@example.com", role="payer", accounts=[accounts[0]]
    )

    response = client.post(reverse("account_login"), {"login": "existing", "password": password})

    assert response.status_code == 302
    assert Membership.objects.get(user=existing).role == Role.PAYER


def test_invitation_needs_an_account_unless_administrator(client, admin):
    client.force_login(admin)
    response = client.post(reverse("manage:user_invite"), {"email": "a@example.com", "role": "payer"})
    assert response.status_code == 200
    assert Invitation.objects.count() == 0


def test_user_list_issues_a_constant_number_of_queries(client, company, admin, accounts, django_assert_max_num_queries):
    MembershipFactory(company=company, role=Role.VIEWER, accounts=[accounts[0]])
    services.invitation_create(
        actor=admin, company=company, email="first@example.com", role="viewer", accounts=[accounts[0]]
    )
    client.force_login(admin)
    with django_assert_max_num_queries(20) as few:
        client.get(reverse("manage:users"))
    for _n in range(8):
        MembershipFactory(company=company, role=Role.PAYER, accounts=list(accounts))
        services.invitation_create(
            actor=admin, company=company, email=f"inv{_n}@example.com", role="viewer", accounts=[accounts[1]]
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("manage:users"))


def test_invited_person_joins_after_signing_up_and_confirming_the_address(
    client, company, admin, accounts, password, django_capture_on_commit_callbacks
):
    import re

    services.invitation_create(
        actor=admin, company=company, email="invitee@example.com", role="payer", accounts=[accounts[0]]
    )
    mail.outbox.clear()

    signup = client.post(
        reverse("account_signup"),
        {"username": "invitee", "email": "invitee@example.com", "password1": password, "password2": password},
    )
    assert signup.status_code == 302
    from accounts.models import User

    invitee = User.objects.get(username="invitee")
    assert not Membership.objects.filter(user=invitee).exists()  # not before the address is confirmed

    link = re.search(r"https?://[^\s]+/accounts/confirm-email/[^\s]+/", mail.outbox[-1].body).group(0)
    path = link.split("testserver", 1)[-1]
    client.post(path)

    membership = Membership.objects.get(user=invitee, company=company)
    assert membership.role == Role.PAYER
    assert list(membership.accounts.all()) == [accounts[0]]


def test_pending_invitation_can_be_withdrawn_and_is_audited(client, company, admin, accounts):
    invitation = services.invitation_create(
        actor=admin, company=company, email="gone@example.com", role="viewer", accounts=[accounts[0]]
    )
    client.force_login(admin)

    response = client.post(reverse("manage:invitation_cancel", args=[invitation.pk]))

    assert response.status_code == 302
    assert not Invitation.objects.exists()
    assert AuditEvent.objects.filter(action="invitation.cancelled", company=company).exists()


def test_invitation_of_another_company_cannot_be_withdrawn(client, accounts, admin):
    other_company = CompanyFactory()
    other_admin = MembershipFactory(company=other_company, role=Role.ADMINISTRATOR).user
    foreign = services.invitation_create(
        actor=other_admin, company=other_company, email="x@example.com", role="administrator"
    )
    client.force_login(admin)
    assert client.post(reverse("manage:invitation_cancel", args=[foreign.pk])).status_code == 404
    assert Invitation.objects.filter(pk=foreign.pk).exists()


def test_manager_cannot_withdraw_an_invitation_outside_their_accounts(client, company, admin, manager, accounts):
    outside = services.invitation_create(
        actor=admin, company=company, email="y@example.com", role="viewer", accounts=[accounts[1]]
    )
    client.force_login(manager)
    assert client.post(reverse("manage:invitation_cancel", args=[outside.pk])).status_code == 404
    assert Invitation.objects.filter(pk=outside.pk).exists()


@pytest.mark.parametrize("role", ["payer", "viewer"])
def test_payers_and_viewers_cannot_withdraw_invitations(client, company, admin, accounts, role):
    invitation = services.invitation_create(
        actor=admin, company=company, email="z@example.com", role="viewer", accounts=[accounts[0]]
    )
    user = MembershipFactory(company=company, role=role, accounts=[accounts[0]]).user
    client.force_login(user)
    assert client.post(reverse("manage:invitation_cancel", args=[invitation.pk])).status_code == 403
    assert Invitation.objects.filter(pk=invitation.pk).exists()
