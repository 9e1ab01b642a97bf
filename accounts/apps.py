from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Companies, accounts and users")

    def ready(self) -> None:
        from allauth.account.signals import email_confirmed, user_logged_in, user_signed_up

        from . import signals

        email_confirmed.connect(signals.on_email_confirmed, dispatch_uid="accounts_invitation_confirmed")
        user_signed_up.connect(signals.on_user_signed_up, dispatch_uid="accounts_invitation_signed_up")
        user_logged_in.connect(signals.on_user_logged_in, dispatch_uid="accounts_invitation_logged_in")
