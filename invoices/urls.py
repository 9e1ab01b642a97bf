from django.urls import path
from django.utils.translation import gettext_lazy as _

from billing_centre.views import ComingSoonView

from . import views

app_name = "invoices"

urlpatterns = [
    path("accounts/", ComingSoonView.as_view(title=_("My Account Invoices")), name="account_list"),
    path("plans/", ComingSoonView.as_view(title=_("My Plan Invoices")), name="plan_list"),
    path("<str:number>/", views.InvoiceDetailView.as_view(), name="detail"),
]
