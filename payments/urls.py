from django.urls import path

import core.converters  # noqa: F401  registers the <ref:...> converter

from . import views

app_name = "payments"

urlpatterns = [
    path("", views.PayIndexView.as_view(), name="index"),
    path("pay/", views.PayView.as_view(), name="pay"),
    path("pay/<ref:key>/", views.PaymentAttemptView.as_view(), name="attempt"),
    path("receipts/<ref:reference>/", views.ReceiptView.as_view(), name="receipt"),
    path("receipts/<ref:reference>/pdf/", views.ReceiptPdfView.as_view(), name="receipt_pdf"),
    path("history/", views.HistoryView.as_view(), name="history"),
    path("wallet/", views.WalletView.as_view(), name="wallet"),
    path("wallet/add/", views.WalletAddView.as_view(), name="wallet_add"),
    path("wallet/<int:pk>/edit/", views.WalletEditView.as_view(), name="wallet_edit"),
    path("wallet/<int:pk>/default/", views.WalletDefaultView.as_view(), name="wallet_default"),
    path("wallet/<int:pk>/delete/", views.WalletDeleteView.as_view(), name="wallet_delete"),
    path("autopay/", views.AutoPayListView.as_view(), name="autopay"),
    path("autopay/new/", views.AutoPayCreateView.as_view(), name="autopay_create"),
    path("autopay/<int:pk>/edit/", views.AutoPayEditView.as_view(), name="autopay_edit"),
    path("autopay/<int:pk>/pause/", views.AutoPayStatusView.as_view(action="pause"), name="autopay_pause"),
    path("autopay/<int:pk>/resume/", views.AutoPayStatusView.as_view(action="resume"), name="autopay_resume"),
    path("autopay/<int:pk>/cancel/", views.AutoPayStatusView.as_view(action="cancel"), name="autopay_cancel"),
    path("webhooks/stripe/", views.StripeWebhookView.as_view(), name="webhook_stripe"),
]
