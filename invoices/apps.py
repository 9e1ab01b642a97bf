from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InvoicesConfig(AppConfig):
    name = "invoices"
    verbose_name = _("Invoices")

    def ready(self) -> None:
        from accounts.services import billable_company_changed

        from .figures_cache import on_billable_company_changed

        billable_company_changed.connect(on_billable_company_changed, dispatch_uid="invoices_figures_scope_changed")

        from accounts.registry import enrolment_invoices

        from .selectors.scope import invoice_of_billable

        enrolment_invoices.register(invoice_of_billable)  # the invoice an enrolment is checked against
