from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404
from django.views.generic import TemplateView

from .selectors import invoice_get_visible


class InvoiceDetailView(LoginRequiredMixin, TemplateView):
    template_name = "invoices/invoice_detail.html"

    def get_context_data(self, **kwargs):
        invoice = invoice_get_visible(user=self.request.user, number=kwargs["number"])
        if invoice is None:
            raise Http404
        return super().get_context_data(invoice=invoice, **kwargs)
