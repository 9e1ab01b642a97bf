"""Invitations by e-mail become memberships once the invited address is verified.

Connected in ``AccountsConfig.ready``. A person invited without a user ID signs
up, confirms the address and joins; someone who already has a user ID with that
verified address joins at the next log-in. An unverified address never joins,
so typing someone else's e-mail at sign-up gives nothing.
"""

from __future__ import annotations

from allauth.account.models import EmailAddress


def _accept_verified(user) -> None:
    from .services import invitation_accept_pending

    for address in EmailAddress.objects.filter(user=user, verified=True):
        invitation_accept_pending(user=user, email=address.email)


def on_email_confirmed(sender, request=None, email_address=None, **kwargs) -> None:
    if email_address is not None and email_address.verified:
        from .services import invitation_accept_pending

        invitation_accept_pending(user=email_address.user, email=email_address.email)


def on_user_signed_up(sender, request=None, user=None, **kwargs) -> None:
    if user is not None:
        _accept_verified(user)


def on_user_logged_in(sender, request=None, user=None, **kwargs) -> None:
    if user is not None:
        _accept_verified(user)
