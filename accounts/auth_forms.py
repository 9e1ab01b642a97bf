"""allauth's forms as the portal uses them (settings.ACCOUNT_FORMS).

Sign-up must not tell which e-mail addresses already have a user ID (issue 13). allauth's
enumeration prevention answers both cases alike (``ACCOUNT_PREVENT_ENUMERATION``: no form error;
an "account already exists" e-mail to the address instead of the verification e-mail, then the
same "verification sent" redirect), but only a new address paid for hashing the password, so
the answer came ~0.25 s sooner for an address that exists. Here the existing-address path hashes
the typed password with the configured hasher too, once, as ``set_password`` does for a new user.
"""

from __future__ import annotations

from allauth.account.forms import SignupForm as AllauthSignupForm
from django.contrib.auth.hashers import make_password


class SignupForm(AllauthSignupForm):
    def try_save(self, request):
        if self.account_already_exists:
            # The same work as a new user's set_password(); the hash is thrown away.
            make_password(self.cleaned_data.get("password1"))
        return super().try_save(request)
