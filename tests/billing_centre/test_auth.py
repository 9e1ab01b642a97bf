"""Sign-in through allauth in the portal's look: log in by user ID or e-mail, sign up, reset, MFA."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.core.cache import cache
from django.urls import reverse

from accounts.models import User
from tests.accounts.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """allauth counts failed log-ins in the cache; every test starts clean."""
    cache.clear()
    yield
    cache.clear()


def _log_in(client, login, password=PASSWORD):
    return client.post(reverse("account_login"), {"login": login, "password": password})


def test_log_in_page_renders_in_the_portal_look(client):
    response = client.get(reverse("account_login"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "layout-entrance" in html
    assert 'class="field' in html
    assert 'name="login"' in html
    assert "css/app.css" in html


@pytest.mark.parametrize("language", ["ko", "en"])
def test_log_in_by_user_id_reaches_the_dashboard(client, language):
    user = UserFactory(username="hanbit01")
    client.cookies["django_language"] = language

    response = _log_in(client, "hanbit01")

    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    dashboard = client.get(reverse("dashboard"))
    assert dashboard.context["user"] == user
    assert "dashboard.html" in [t.name for t in dashboard.templates]


def test_log_in_by_verified_e_mail_reaches_the_dashboard(client):
    user = UserFactory(username="hanbit02", email="pay@hanbit.example")
    assert EmailAddress.objects.filter(user=user, verified=True).exists()

    response = _log_in(client, "pay@hanbit.example")

    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    assert client.get(reverse("dashboard")).context["user"] == user


def test_wrong_password_shows_an_error_and_does_not_log_in(client):
    UserFactory(username="hanbit03")

    response = _log_in(client, "hanbit03", password="not-the-password")

    assert response.status_code == 200
    assert response.context["form"].errors
    html = response.content.decode()
    assert 'class="alert alert-error"' in html
    assert "_auth_user_id" not in client.session


def test_sign_up_creates_a_user_and_sends_a_verification_e_mail(client):
    response = client.post(
        reverse("account_signup"),
        {
            "username": "newshipper",
            "email": "new@shipper.example",
            "password1": "Tr4ck-My-Parcel-77",
            "password2": "Tr4ck-My-Parcel-77",
        },
    )

    assert response.status_code == 302
    user = User.objects.get(username="newshipper")
    assert user.email == "new@shipper.example"
    assert EmailAddress.objects.get(user=user).verified is False
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["new@shipper.example"]
    sent_page = client.get(response["Location"])
    assert sent_page.status_code == 200
    assert "layout-entrance" in sent_page.content.decode()


def test_sign_up_with_mismatched_passwords_shows_a_field_error(client):
    response = client.post(
        reverse("account_signup"),
        {
            "username": "newshipper2",
            "email": "new2@shipper.example",
            "password1": "Tr4ck-My-Parcel-77",
            "password2": "something-else-99",
        },
    )

    assert response.status_code == 200
    assert "field-error" in response.content.decode()
    assert not User.objects.filter(username="newshipper2").exists()
    assert mail.outbox == []


def test_password_reset_sends_mail(client):
    UserFactory(username="hanbit04", email="reset@hanbit.example")

    response = client.post(reverse("account_reset_password"), {"email": "reset@hanbit.example"})

    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["reset@hanbit.example"]
    done = client.get(response["Location"])
    assert done.status_code == 200


@pytest.mark.parametrize("language", ["ko", "en"])
def test_mfa_pages_render_for_a_logged_in_user(client, language):
    UserFactory(username="hanbit05")
    client.cookies["django_language"] = language
    _log_in(client, "hanbit05")

    index = client.get(reverse("mfa_index"))
    # allauth asks for the password again before MFA changes: that page is ours too.
    ask = client.get(reverse("mfa_activate_totp"))
    assert ask.status_code == 302
    assert ask["Location"].startswith(reverse("account_reauthenticate"))
    reauth_page = client.get(ask["Location"])
    assert reauth_page.status_code == 200
    assert 'name="password"' in reauth_page.content.decode()
    back = client.post(ask["Location"], {"password": PASSWORD})
    assert back.status_code == 302
    activate = client.get(reverse("mfa_activate_totp"))

    assert index.status_code == 200
    assert f'href="{reverse("mfa_activate_totp")}"' in index.content.decode()
    assert activate.status_code == 200
    html = activate.content.decode()
    assert 'class="qr-code"' in html
    assert 'name="code"' in html
    assert f'<html lang="{language}">' in html


def test_mfa_pages_send_anonymous_visitors_to_log_in(client):
    response = client.get(reverse("mfa_index"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_activating_totp_then_viewing_recovery_codes(client, frozen_clock):
    from allauth.mfa.totp.internal.auth import (
        format_hotp_value,
        hotp_value,
        yield_hotp_counters_from_time,
    )

    UserFactory(username="hanbit06")
    _log_in(client, "hanbit06")
    ask = client.get(reverse("mfa_activate_totp"))
    client.post(ask["Location"], {"password": PASSWORD})
    activate = client.get(reverse("mfa_activate_totp"))
    secret = activate.context["form"].secret
    code = format_hotp_value(hotp_value(secret, next(yield_hotp_counters_from_time())))

    done = client.post(reverse("mfa_activate_totp"), {"code": code})

    assert done.status_code == 302
    codes = client.get(reverse("mfa_view_recovery_codes"))
    assert codes.status_code == 200
    html = codes.content.decode()
    assert 'id="recovery_codes"' in html
    assert 'class="field' in html
    assert client.get(reverse("mfa_index")).status_code == 200


def test_wrong_totp_code_shows_a_field_error(client):
    UserFactory(username="hanbit07")
    _log_in(client, "hanbit07")
    ask = client.get(reverse("mfa_activate_totp"))
    client.post(ask["Location"], {"password": PASSWORD})
    client.get(reverse("mfa_activate_totp"))

    response = client.post(reverse("mfa_activate_totp"), {"code": "000000"})

    assert response.status_code == 200
    assert "field-error" in response.content.decode()
