"""Log-in, enrolment and Pay Now lock out repeated guessing, and each lock-out is audited."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from accounts.models import AuditEvent
from tests.accounts.factories import PASSWORD, ShippingAccountFactory, UserFactory
from tests.invoices.factories import InvoiceFactory

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


# SECURITY.md: "Log-in is rate-limited per IP and per user ID": allauth's login_failed limits,
# 10 failures a minute from one address and 5 in 5 minutes for one user ID, whatever the address.
PER_IP, PER_USER_ID = 10, 5


def test_the_documented_log_in_limits_are_the_configured_ones(settings):
    assert settings.ACCOUNT_RATE_LIMITS["login_failed"] == f"{PER_IP}/m/ip,{PER_USER_ID}/5m/key"


def _log_in_from(client, address, login, password):
    return client.post("/accounts/login/", {"login": login, "password": password}, REMOTE_ADDR=address)


def test_log_in_locks_out_an_address_after_ten_failures_with_different_user_ids():
    from django.test import Client

    honest = UserFactory(username="honest")
    attacker, elsewhere = Client(HTTP_ACCEPT_LANGUAGE="en"), Client(HTTP_ACCEPT_LANGUAGE="en")
    # One guess per user ID: the per-user-ID limit never trips, only the address's does.
    for number in range(PER_IP):
        refused = _log_in_from(attacker, "203.0.113.7", f"guess{number:02d}", "wrong-password")
        assert refused.status_code == 200 and "Too many failed login attempts" not in refused.content.decode()

    locked = _log_in_from(attacker, "203.0.113.7", "honest", PASSWORD)  # even the right password
    other_address = _log_in_from(elsewhere, "198.51.100.9", "honest", PASSWORD)

    assert "Too many failed login attempts" in locked.content.decode()
    assert "_auth_user_id" not in attacker.session
    assert other_address.status_code == 302
    assert elsewhere.session["_auth_user_id"] == str(honest.pk)
    event = AuditEvent.objects.get(action="auth.login_locked_out")
    assert (event.ip_address, event.data["login"]) == ("203.0.113.7", "honest")


def test_log_in_locks_out_a_user_id_after_five_failures_from_different_addresses():
    from django.test import Client

    UserFactory(username="target")
    bystander = UserFactory(username="bystander")
    for number in range(PER_USER_ID):
        refused = _log_in_from(Client(HTTP_ACCEPT_LANGUAGE="en"), f"192.0.2.{number + 1}", "target", "wrong-password")
        assert "Too many failed login attempts" not in refused.content.decode()

    fresh_address = Client(HTTP_ACCEPT_LANGUAGE="en")
    locked = _log_in_from(fresh_address, "192.0.2.200", "target", PASSWORD)  # a new address, the right password
    assert "Too many failed login attempts" in locked.content.decode()
    assert "_auth_user_id" not in fresh_address.session
    # The same new address may still log in as someone else: the lock is on the user ID.
    assert _log_in_from(fresh_address, "192.0.2.200", "bystander", PASSWORD).status_code == 302
    assert fresh_address.session["_auth_user_id"] == str(bystander.pk)
    event = AuditEvent.objects.get(action="auth.login_locked_out")
    assert (event.ip_address, event.data["login"]) == ("192.0.2.200", "target")


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
