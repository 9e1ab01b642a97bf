from django.urls import path
from django.utils.translation import gettext_lazy as _

from billing_centre.views import ComingSoonView

from . import views

app_name = "payments"

urlpatterns = [
    path("", views.PayIndexView.as_view(), name="index"),
    path("pay/", views.PayView.as_view(), name="pay"),
    path("pay/<str:key>/", views.PaymentAttemptView.as_view(), name="attempt"),
    path("receipts/<str:reference>/", views.ReceiptView.as_view(), name="receipt"),
    path("receipts/<str:reference>/pdf/", views.ReceiptPdfView.as_view(), name="receipt_pdf"),
    path("history/", views.HistoryView.as_view(), name="history"),
    path("wallet/", views.WalletView.as_view(), name="wallet"),
    path("wallet/add/", views.WalletAddView.as_view(), name="wallet_add"),
    path("wallet/<int:pk>/edit/", views.WalletEditView.as_view(), name="wallet_edit"),
    path("wallet/<int:pk>/default/", views.WalletDefaultView.as_view(), name="wallet_default"),
    path("wallet/<int:pk>/delete/", views.WalletDeleteView.as_view(), name="wallet_delete"),
    path("autopay/", ComingSoonView.as_view(title=_("My AutoPay")), name="autopay"),
    path("webhooks/stripe/", views.StripeWebhookView.as_view(), name="webhook_stripe"),
]
