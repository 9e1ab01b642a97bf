from django.urls import path

from . import views

app_name = "disputes"

urlpatterns = [
    path("", views.DisputeListView.as_view(), name="list"),
    # ?invoice=<number> (one invoice, by charge) or ?invoice=A&invoice=B (bulk, whole invoices)
    path("new/", views.DisputeFileView.as_view(), name="file"),
    path("<str:reference>/", views.DisputeDetailView.as_view(), name="detail"),
    path("<str:reference>/messages/", views.DisputeMessageView.as_view(), name="message"),
    path("<str:reference>/withdraw/", views.DisputeWithdrawView.as_view(), name="withdraw"),
    path("<str:reference>/attachments/<int:pk>/", views.DisputeAttachmentView.as_view(), name="attachment"),
]
