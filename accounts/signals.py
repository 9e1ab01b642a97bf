"""Invitations by e-mail become memberships once the invited address is verified.

Connected in ``AccountsConfig.ready``. A person invited without a user ID signs
up, confirms the address and joins; someone who already has a user ID with that
verified address joins at the next log-in. An unverified address never joins,
so typing someone else's e-mail at sign-up gives nothing. An expired invitation
is refused: the person is told on the page to ask for a new one (once per request,
though confirming the address also logs in).
"""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django.contrib import messages
from django.utils import formats, timezone
from django.utils.translation import gettext as _


def _accept(request, user, email: str) -> None:
    from .selectors import invitation_list_expired_for
    from .services.invitations import invitation_accept_pending

    invitation_accept_pending(user=user, email=email)
    if request is None or not hasattr(request, "_messages"):
        return
    told = request.__dict__.setdefault("_bc_expired_invitations_told", set())
    for invitation in invitation_list_expired_for(email=email):
        if invitation.pk in told:
            continue
        told.add(invitation.pk)
        messages.error(
            request,
            _(
                "Your invitation to %(company)s expired on %(date)s, so you were not added to the company. "
                "Ask your administrator for a new invitation."
            )
            % {
                "company": invitation.company.name,
                "date": formats.date_format(timezone.localtime(invitation.expires_at), "Y-m-d"),
            },
        )


def _accept_verified(request, user) -> None:
    for address in EmailAddress.objects.filter(user=user, verified=True):
        _accept(request, user, address.email)


def on_email_confirmed(sender, request=None, email_address=None, **kwargs) -> None:
    if email_address is not None and email_address.verified:
        _accept(request, email_address.user, email_address.email)


def on_user_signed_up(sender, request=None, user=None, **kwargs) -> None:
    if user is not None:
        _accept_verified(request, user)


def on_user_logged_in(sender, request=None, user=None, **kwargs) -> None:
    if user is not None:
        _accept_verified(request, user)
