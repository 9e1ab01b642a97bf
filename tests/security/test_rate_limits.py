"""Log-in, enrolment and Pay Now lock out repeated guessing, and each lock-out is audited."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from accounts.models import AuditEvent
from tests.factories import PASSWORD, InvoiceFactory, ShippingAccountFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


def _log_in(client, login, password):
    return client.post("/accounts/login/", {"login": login, "password": password})


def test_log_in_locks_out_after_five_failures_for_one_user_id_and_audits_it_once():
    from django.test import Client

    user = UserFactory(username="guessme")
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    for _ in range(5):
        response = _log_in(client, "guessme", "wrong-password")
        assert response.status_code == 200 and "_auth_user_id" not in client.session

    locked = _log_in(client, "guessme", PASSWORD)  # even the right password is refused now
    locked_again = _log_in(client, "guessme", PASSWORD)

    assert "_auth_user_id" not in client.session
    assert "Too many failed login attempts" in locked.content.decode()
    assert locked_again.status_code == 200
    events = AuditEvent.objects.filter(action="auth.login_locked_out")
    assert events.count() == 1  # one event per lock-out, not one per refused attempt
    assert events.get().data["login"] == "guessme"
    assert events.get().ip_address == "127.0.0.1"
    assert user.pk  # the account itself is untouched
    assert not AuditEvent.objects.filter(action="auth.login_locked_out", data__login="someone-else").exists()


def test_log_in_lock_out_is_per_user_id_so_others_still_log_in(client):
    UserFactory(username="victim")
    other = UserFactory(username="bystander")
    for _ in range(6):
        _log_in(client, "victim", "wrong-password")

    response = _log_in(client, "bystander", PASSWORD)

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(other.pk)


def test_enrolment_locks_out_after_five_refusals_and_audits_the_lock(client):
    user = UserFactory(username="enroller")
    account = ShippingAccountFactory(company=None, number="EN1001")
    invoice = InvoiceFactory(account=account, invoice_date=timezone.localdate() - datetime.timedelta(days=3))
    client.force_login(user)
    data = {
        "number": account.number,
        "invoice_number": invoice.number,
        "invoice_date": invoice.invoice_date.isoformat(),
        "amount": "1",
        "control_id": invoice.control_id,
    }
    for _ in range(5):
        client.post("/enroll/", data)

    response = client.post("/enroll/", {**data, "amount": f"{invoice.total:,.0f}"})

    assert "locked for 15 minutes" in response.content.decode()
    account.refresh_from_db()
    assert account.company is None
    assert AuditEvent.objects.filter(action="enrolment.refused", data__outcome="locked", actor=user).count() == 1


def test_pay_now_locks_out_per_account_number_and_audits_the_lock(client, settings):
    settings.PAYMENT_GATEWAY = "simulated"
    account = ShippingAccountFactory(number="PN1001")
    invoice = InvoiceFactory(account=account, total=13000)
    for _ in range(5):
        client.post(
            "/pay-now/",
            {"action": "lookup", "account_number": "PN1001", "invoice_number": invoice.number, "amount": "1"},
        )

    response = client.post(
        "/pay-now/",
        {"action": "lookup", "account_number": "PN1001", "invoice_number": invoice.number, "amount": "13,000"},
    )

    assert "Too many attempts" in response.content.decode()
    event = AuditEvent.objects.get(action="pay_now.locked_out", data__key="acct")
    assert event.data["account_number"] == "PN1001"
