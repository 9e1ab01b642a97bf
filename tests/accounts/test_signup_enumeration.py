"""Sign-up does not tell which e-mail addresses have a user ID (issue 13).

allauth already answers both cases alike (ACCOUNT_PREVENT_ENUMERATION: an "account already
exists" e-mail instead of a form error), but only a new address paid for hashing the password,
so the time of the answer told them apart. These tests count the work instead of timing it.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.core import mail
from django.test import Client

from accounts.models import User
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "Tr4ck-My-Parcel-77"


class CountingHasher(PBKDF2PasswordHasher):
    """Django's PBKDF2 hasher (few iterations, to keep the suite fast) that counts its hashes."""

    algorithm = "pbkdf2_sha256_counting"
    iterations = 1000
    calls = 0

    def encode(self, password, salt, iterations=None):
        type(self).calls += 1
        return super().encode(password, salt, iterations)


@pytest.fixture(autouse=True)
def _counting_hasher(settings):
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    CountingHasher.calls = 0


def _sign_up(username, email, address):
    mail.outbox.clear()
    CountingHasher.calls = 0
    response = Client().post(
        "/accounts/signup/",
        {"username": username, "email": email, "password1": PASSWORD, "password2": PASSWORD},
        REMOTE_ADDR=address,
    )
    return response, CountingHasher.calls, list(mail.outbox)


def test_sign_up_does_the_same_work_for_a_new_and_an_existing_e_mail():
    UserFactory(username="taken", email="taken@example.com")

    new, new_hashes, new_mail = _sign_up("brandnew", "brandnew@example.com", "198.51.100.1")
    old, old_hashes, old_mail = _sign_up("another", "taken@example.com", "198.51.100.2")

    assert (new.status_code, new["Location"]) == (old.status_code, old["Location"]) == (302, "/accounts/confirm-email/")
    assert new_hashes == old_hashes == 1  # the configured hasher, once on each path
    assert [m.to for m in new_mail] == [["brandnew@example.com"]]
    assert [m.to for m in old_mail] == [["taken@example.com"]]
    assert User.objects.filter(username="brandnew").exists()
    assert not User.objects.filter(username="another").exists()  # no second user for the address
    assert User.objects.get(username="taken").check_password("correct-horse-battery-staple")


def test_sign_up_with_an_existing_e_mail_in_other_letter_case_does_the_same_work():
    UserFactory(username="cased", email="cased@example.com")

    response, hashes, sent = _sign_up("copycat", "Cased@Example.COM", "198.51.100.3")

    assert (response.status_code, response["Location"]) == (302, "/accounts/confirm-email/")
    assert hashes == 1
    assert [m.to for m in sent] == [["cased@example.com"]]
