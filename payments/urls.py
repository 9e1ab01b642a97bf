from django.urls import path
from django.utils.translation import gettext_lazy as _

from billing_centre.views import ComingSoonView

app_name = "payments"

urlpatterns = [
    path("", ComingSoonView.as_view(title=_("Payments")), name="index"),
    path("pay/", ComingSoonView.as_view(title=_("Pay invoices")), name="pay"),
    path("wallet/", ComingSoonView.as_view(title=_("Wallet")), name="wallet"),
    path("autopay/", ComingSoonView.as_view(title=_("My AutoPay")), name="autopay"),
    path("history/", ComingSoonView.as_view(title=_("Payment history")), name="history"),
]
