from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DisputesConfig(AppConfig):
    name = "disputes"
    verbose_name = _("Disputes")

    def ready(self) -> None:
        from . import invoice_hooks

        invoice_hooks.register()  # invoices' open holds and invoice detail sections

        from . import registrations

        registrations.register()  # accounts' removal blockers
