from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = _("Payments")

    def ready(self) -> None:
        from . import invoice_hooks

        invoice_hooks.register()  # invoices' open holds and invoice detail sections

        from . import registrations

        registrations.register()  # accounts' removal blockers and table flags
