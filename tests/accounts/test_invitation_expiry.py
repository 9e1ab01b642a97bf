"""Invitations expire (7 days by default, settings.INVITATION_DAYS), are used once, and an
expired one is refused with a message that says what to do (issue 13)."""

from __future__ import annotations

import datetime
import re

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.models import AuditEvent, Invitation, Membership, Role, User
from tests.accounts.factories import PASSWORD, CompanyFactory, MembershipFactory, ShippingAccountFactory, UserFactory

pytestmark = pytest.mark.django_db

ASK_AGAIN = "Ask your administrator for a new invitation"


@pytest.fixture(autouse=True)
def _mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def company():
    return CompanyFactory(name="가온물류")


@pytest.fixture
def account(company):
    return ShippingAccountFactory(company=company, number="AAA111")


@pytest.fixture
def admin(company):
    return MembershipFactory(company=company, role=Role.ADMINISTRATOR).user


def _invite(client, admin, account, email="invitee@example.com"):
    client.force_login(admin)
    response = client.post(reverse("manage:user_invite"), {"email": email, "role": "payer", "accounts": [account.pk]})
    assert response.status_code == 302
    client.logout()
    return Invitation.objects.get(email=email, accepted_at__isnull=True)


def _sign_up_and_confirm(client, email="invitee@example.com", username="invitee"):
    """The real sign-up, then the link of the verification e-mail; the page the person lands on."""
    mail.outbox.clear()
    signup = client.post(
        reverse("account_signup"),
        {"username": username, "email": email, "password1": PASSWORD, "password2": PASSWORD},
    )
    assert signup.status_code == 302
    link = re.search(r"https?://[^\s]+/accounts/confirm-email/[^\s]+/", mail.outbox[-1].body).group(0)
    return client.post(link.split("testserver", 1)[-1], follow=True)


def _later(days: float):
    return time_machine.travel(timezone.now() + datetime.timedelta(days=days), tick=False)


def test_invitation_is_accepted_through_sign_up_within_seven_days(client, company, admin, account):
    _invite(client, admin, account)

    with _later(6.9):
        _sign_up_and_confirm(client)

    membership = Membership.objects.get(user__username="invitee", company=company)
    assert membership.role == Role.PAYER


def test_expired_invitation_is_refused_at_sign_up_with_a_clear_message(client, company, admin, account):
    invitation = _invite(client, admin, account)

    with _later(7.1):
        landed = _sign_up_and_confirm(client)

    invitee = User.objects.get(username="invitee")
    assert not Membership.objects.filter(user=invitee).exists()
    assert ASK_AGAIN in landed.content.decode()
    assert "가온물류" in landed.content.decode()
    invitation.refresh_from_db()
    assert invitation.accepted_at is None
    assert not AuditEvent.objects.filter(action="invitation.accepted").exists()


def test_expired_invitation_is_refused_at_log_in_of_a_registered_user(client, company, admin, account):
    existing = UserFactory(username="existing", email="existing@example.com")
    _invite(client, admin, account, email="existing@example.com")

    with _later(8):
        response = client.post(reverse("account_login"), {"login": "existing", "password": PASSWORD}, follow=True)

    assert response.context["user"] == existing
    assert not Membership.objects.filter(user=existing).exists()
    assert ASK_AGAIN in response.content.decode()


def test_invitation_days_come_from_the_setting(client, settings, company, admin, account):
    settings.INVITATION_DAYS = 2
    _invite(client, admin, account)

    with _later(3):
        _sign_up_and_confirm(client)

    assert not Membership.objects.filter(user__username="invitee").exists()


def test_invitation_e_mail_says_until_when_it_is_valid(client, admin, account, django_capture_on_commit_callbacks):
    client.force_login(admin)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("manage:user_invite"), {"email": "when@example.com", "role": "payer", "accounts": [account.pk]}
        )

    invitation = Invitation.objects.get(email="when@example.com")
    expires = timezone.localtime(invitation.expires_at)
    valid_for = expires - invitation.created_at
    assert datetime.timedelta(days=7) - datetime.timedelta(seconds=5) < valid_for <= datetime.timedelta(days=7)
    assert f"{expires:%Y-%m-%d}" in mail.outbox[-1].body


def test_accepted_invitation_is_used_once(client, company, admin, account):
    _invite(client, admin, account)
    _sign_up_and_confirm(client)
    invitee = User.objects.get(username="invitee")
    services.membership_remove(actor=admin, membership=Membership.objects.get(user=invitee))

    client.logout()
    client.post(reverse("account_login"), {"login": "invitee", "password": PASSWORD})

    assert not Membership.objects.filter(user=invitee).exists()  # removed stays removed
    assert AuditEvent.objects.filter(action="invitation.accepted").count() == 1


def test_user_management_shows_an_expired_invitation_and_sends_a_new_one(
    client, company, admin, account, django_capture_on_commit_callbacks
):
    old = _invite(client, admin, account)

    with _later(10):
        client.force_login(admin)
        page = client.get(reverse("manage:users"))
        row = re.search(r'<tr data-invitation="invitee@example.com".*?</tr>', page.content.decode(), re.S).group(0)
        assert 'data-status="expired"' in row
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            resent = client.post(reverse("manage:invitation_resend", args=[old.pk]))
        assert resent.status_code == 302
        client.logout()
        _sign_up_and_confirm(client)

    new = Invitation.objects.get(email="invitee@example.com")
    assert new.pk != old.pk
    assert new.accepted_by.username == "invitee"
    assert Membership.objects.get(user__username="invitee", company=company).role == Role.PAYER
    assert list(Membership.objects.get(user__username="invitee").accounts.all()) == [account]
    assert AuditEvent.objects.filter(action="invitation.created").count() == 2


def test_a_pending_invitation_is_not_shown_as_expired(client, admin, account):
    _invite(client, admin, account)
    client.force_login(admin)

    page = client.get(reverse("manage:users")).content.decode()

    row = re.search(r'<tr data-invitation="invitee@example.com".*?</tr>', page, re.S).group(0)
    assert 'data-status="pending"' in row


def test_invitation_of_another_company_cannot_be_sent_again(client, admin):
    other = MembershipFactory(role=Role.ADMINISTRATOR)
    foreign = services.invitation_create(
        actor=other.user, company=other.company, email="x@example.com", role="administrator"
    )
    client.force_login(admin)

    assert client.post(reverse("manage:invitation_resend", args=[foreign.pk])).status_code == 404
    assert Invitation.objects.get().pk == foreign.pk


def test_manager_cannot_send_again_an_invitation_outside_their_accounts(client, company, admin, account):
    other_account = ShippingAccountFactory(company=company, number="BBB222")
    manager = MembershipFactory(company=company, role=Role.MANAGER, accounts=[account]).user
    outside = services.invitation_create(
        actor=admin, company=company, email="y@example.com", role="viewer", accounts=[other_account]
    )
    client.force_login(manager)

    assert client.post(reverse("manage:invitation_resend", args=[outside.pk])).status_code == 404
    assert Invitation.objects.get().pk == outside.pk
