"""A mail server outage never turns a committed accounts write into an error page: the e-mail
waits in the outbox (core.mail) and the sweep sends it later."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import AuditEvent, Invitation, Role
from core.mail import emails_requeue
from core.models import OutgoingEmail
from tests.accounts.factories import CompanyFactory, MembershipFactory, ShippingAccountFactory

pytestmark = pytest.mark.django_db


def test_an_invitation_is_saved_and_the_page_answers_while_the_mail_server_is_down(
    client, smtp_down, django_capture_on_commit_callbacks
):
    company = CompanyFactory(name="가온물류")
    account = ShippingAccountFactory(company=company, number="AAA111")
    admin = MembershipFactory(company=company, role=Role.ADMINISTRATOR).user
    client.force_login(admin)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("manage:user_invite"),
            {"email": "future@example.com", "role": "viewer", "accounts": [account.pk]},
        )

    assert response.status_code == 302
    assert Invitation.objects.filter(company=company, email="future@example.com").exists()
    assert AuditEvent.objects.filter(action="invitation.created").exists()
    assert mail.outbox == []
    [waiting] = OutgoingEmail.objects.all()
    assert waiting.to == ["future@example.com"]
    assert waiting.sent_at is None


def test_the_waiting_e_mail_is_sent_once_the_mail_server_is_back(
    client, smtp_down, monkeypatch, django_capture_on_commit_callbacks
):
    company = CompanyFactory(name="가온물류")
    account = ShippingAccountFactory(company=company, number="AAA111")
    admin = MembershipFactory(company=company, role=Role.ADMINISTRATOR).user
    client.force_login(admin)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("manage:user_invite"),
            {"email": "future@example.com", "role": "viewer", "accounts": [account.pk]},
        )
    monkeypatch.undo()  # the mail server is back

    assert emails_requeue(older_than=datetime.timedelta(0)) == 1

    assert [m.to for m in mail.outbox] == [["future@example.com"]]
    assert OutgoingEmail.objects.get().sent_at is not None
