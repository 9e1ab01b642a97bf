"""Every door where a password is typed has the same MFA, rate limits, lock-out and audit (issue 13).

The Django admin's own log-in form is not such a door any more: ``/admin/login/`` sends people
to allauth's log-in (``next`` kept), so a staff user with TOTP needs the code there too.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from allauth.mfa.totp.internal.auth import yield_hotp_counters_from_time as counters
from django.core.cache import cache
from django.test import Client

from accounts.models import AuditEvent
from tests.accounts.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

ADMIN_LOGIN = "/admin/login/"
TOTP_DEACTIVATE = "/accounts/2fa/totp/deactivate/"


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def staff_with_totp():
    user = UserFactory(username="staffmfa", is_staff=True, is_superuser=True)
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return user, secret


def _code(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, next(counters())))


def _has_session(client) -> bool:
    return "_auth_user_id" in client.session


# --- /admin/login/ goes through allauth --------------------------------------------------------


def test_staff_with_totp_gets_no_session_from_a_password_posted_to_the_admin_login(client, staff_with_totp):
    client.post(ADMIN_LOGIN, {"username": "staffmfa", "password": PASSWORD, "next": "/admin/"})

    assert not _has_session(client)
    admin_index = client.get("/admin/")
    assert admin_index.status_code == 302
    deactivate = client.get(TOTP_DEACTIVATE)
    assert deactivate.status_code == 302
    assert deactivate["Location"].startswith("/accounts/login/")


def test_a_logged_in_clerk_cannot_become_another_staff_user_by_posting_to_the_admin_login(client, staff_with_totp):
    clerk = UserFactory(username="clerk", is_staff=True)
    client.force_login(clerk)

    response = client.post(ADMIN_LOGIN, {"username": "staffmfa", "password": PASSWORD, "next": "/admin/"})

    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == clerk.pk  # still the clerk: no TOTP skipped
    assert client.get(ADMIN_LOGIN).status_code == 302


def test_admin_login_page_sends_people_to_the_allauth_log_in_keeping_next(client):
    response = client.get(ADMIN_LOGIN + "?next=/admin/invoices/invoice/")

    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == "/accounts/login/"
    assert parse_qs(location.query)["next"] == ["/admin/invoices/invoice/"]


def test_staff_with_totp_reaches_the_admin_after_log_in_and_the_code(client, staff_with_totp, frozen_clock):
    user, secret = staff_with_totp
    door = client.get("/admin/", follow=True)  # /admin/ → /admin/login/ → allauth's log-in
    login_url = door.redirect_chain[-1][0]
    assert urlsplit(login_url).path == "/accounts/login/"

    password_step = client.post(login_url, {"login": "staffmfa", "password": PASSWORD})
    assert password_step.status_code == 302
    assert password_step["Location"].startswith("/accounts/2fa/authenticate/")
    assert not _has_session(client)  # the password alone is not enough
    code_step = client.post(password_step["Location"], {"code": _code(secret)})

    assert code_step.status_code == 302
    assert code_step["Location"] == "/admin/"
    assert client.session["_auth_user_id"] == str(user.pk)
    assert client.get("/admin/").status_code == 200


def test_non_staff_user_who_logs_in_is_still_refused_by_the_admin(client):
    UserFactory(username="customer1")
    door = client.get("/admin/", follow=True)
    login_url = door.redirect_chain[-1][0]

    logged_in = client.post(login_url, {"login": "customer1", "password": PASSWORD}, follow=True)

    assert _has_session(client)
    assert logged_in.status_code == 403  # back at /admin/login/: a customer is no staff
    assert client.get("/admin/").status_code == 302
    assert client.get("/admin/invoices/invoice/").status_code == 302


def test_wrong_passwords_through_the_admin_door_are_locked_out_and_audited(staff_with_totp):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    for _ in range(15):
        direct = client.post(ADMIN_LOGIN, {"username": "staffmfa", "password": "wrong-password"})
        assert direct.status_code == 302  # the admin's form never checks a password
        assert urlsplit(direct["Location"]).path == "/accounts/login/"
    login_url = client.get(ADMIN_LOGIN).headers["Location"]
    for _ in range(15):
        client.post(login_url, {"login": "staffmfa", "password": "wrong-password"})

    locked = client.post(login_url, {"login": "staffmfa", "password": PASSWORD})

    assert locked.status_code == 200
    assert "Too many failed login attempts" in locked.content.decode()
    assert not _has_session(client)
    event = AuditEvent.objects.get(action="auth.login_locked_out")
    assert event.data["login"] == "staffmfa"


# --- The client's address behind the proxy ------------------------------------------------------

ADDRESS_A = "198.51.100.7"
ADDRESS_B = "198.51.100.8"
FORGED = "203.0.113.66"
NGINX = "10.0.0.2"


def _attempt(client, login, password="wrong-password", **extra):
    return client.post("/accounts/login/", {"login": login, "password": password}, **extra)


@pytest.fixture
def administrator():
    return UserFactory(username="realadmin")


def test_a_forged_forwarded_for_does_not_choose_the_address_when_no_proxy_is_trusted(settings, administrator):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 0
    attacker = Client(HTTP_ACCEPT_LANGUAGE="en")
    for n in range(11):  # different user IDs: only the per-address limit adds up
        _attempt(attacker, f"guess{n}", REMOTE_ADDR=ADDRESS_A, HTTP_X_FORWARDED_FOR=FORGED)
    still_locked = _attempt(attacker, "realadmin", PASSWORD, REMOTE_ADDR=ADDRESS_A, HTTP_X_FORWARDED_FOR="203.0.113.67")

    admin = _attempt(Client(), "realadmin", PASSWORD, REMOTE_ADDR=ADDRESS_B, HTTP_X_FORWARDED_FOR=FORGED)

    assert "Too many failed login attempts" in still_locked.content.decode()  # a new header is no way out
    assert admin.status_code == 302
    assert admin["Location"] == "/"
    addresses = set(AuditEvent.objects.filter(action="auth.login_locked_out").values_list("ip_address", flat=True))
    assert addresses == {ADDRESS_A}


def test_behind_one_trusted_proxy_the_last_forwarded_address_is_the_client(settings, administrator):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    attacker = Client(HTTP_ACCEPT_LANGUAGE="en")
    for n in range(11):  # nginx appends the address it saw to whatever the client sent
        _attempt(attacker, f"guess{n}", REMOTE_ADDR=NGINX, HTTP_X_FORWARDED_FOR=f"{FORGED}, {ADDRESS_A}")
    locked = _attempt(attacker, "guess99", REMOTE_ADDR=NGINX, HTTP_X_FORWARDED_FOR=ADDRESS_A)

    # Another client behind the same nginx is not locked out with the attacker.
    admin = _attempt(Client(), "realadmin", PASSWORD, REMOTE_ADDR=NGINX, HTTP_X_FORWARDED_FOR=ADDRESS_B)

    assert "Too many failed login attempts" in locked.content.decode()
    assert admin.status_code == 302
    addresses = set(AuditEvent.objects.filter(action="auth.login_locked_out").values_list("ip_address", flat=True))
    assert addresses == {ADDRESS_A}


@pytest.mark.parametrize(
    ("proxies", "remote", "forwarded", "recorded"),
    [
        (0, ADDRESS_A, FORGED, ADDRESS_A),
        (1, NGINX, f"{FORGED}, {ADDRESS_A}", ADDRESS_A),
    ],
)
def test_the_audit_trail_records_the_client_address(settings, proxies, remote, forwarded, recorded):
    from accounts.models import Role
    from tests.accounts.factories import MembershipFactory, ShippingAccountFactory

    settings.ALLAUTH_TRUSTED_PROXY_COUNT = proxies
    membership = MembershipFactory(role=Role.ADMINISTRATOR)
    account = ShippingAccountFactory(company=membership.company)
    client = Client()
    client.force_login(membership.user)

    response = client.post(
        "/manage/users/invite/",
        {"email": "someone@example.com", "role": "viewer", "accounts": [account.pk]},
        REMOTE_ADDR=remote,
        HTTP_X_FORWARDED_FOR=forwarded,
    )

    assert response.status_code == 302
    assert AuditEvent.objects.get(action="invitation.created").ip_address == recorded


def test_a_forged_forwarded_for_does_not_lift_a_pay_now_lock_out(settings):
    from tests.accounts.factories import ShippingAccountFactory
    from tests.invoices.factories import InvoiceFactory

    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 0
    settings.PAYMENT_GATEWAY = "simulated"
    invoice = InvoiceFactory(account=ShippingAccountFactory(number="PN7001"), total=13000)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    for n in range(10):  # one guess per account number: only the per-address limit adds up
        client.post(
            "/pay-now/",
            {"action": "lookup", "account_number": f"ZZ{n:04d}", "invoice_number": "X", "amount": "1"},
            REMOTE_ADDR=ADDRESS_A,
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        )

    response = client.post(
        "/pay-now/",
        {"action": "lookup", "account_number": "PN7001", "invoice_number": invoice.number, "amount": "13,000"},
        REMOTE_ADDR=ADDRESS_A,
        HTTP_X_FORWARDED_FOR="203.0.113.200",
    )

    assert "Too many attempts" in response.content.decode()
    event = AuditEvent.objects.get(action="pay_now.locked_out", data__key="ip")
    assert event.ip_address == ADDRESS_A


def test_a_forwarded_for_shorter_than_the_proxy_count_is_no_server_error(settings):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 2  # a request that skipped the outer proxy
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    for n in range(11):
        response = _attempt(client, f"guess{n}", REMOTE_ADDR=NGINX, HTTP_X_FORWARDED_FOR=ADDRESS_A)
        assert response.status_code == 200

    addresses = set(AuditEvent.objects.filter(action="auth.login_locked_out").values_list("ip_address", flat=True))
    # No entry of a header shorter than the proxy count can be vouched for (it may be forged by a
    # client that reached us directly): the connection's own address is the client.
    assert addresses == {NGINX}
