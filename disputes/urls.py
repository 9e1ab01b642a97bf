from django.urls import path

import core.converters  # noqa: F401  registers the <ref:...> converter

from . import views

app_name = "disputes"

urlpatterns = [
    path("", views.DisputeListView.as_view(), name="list"),
    # ?invoice=<number> (one invoice, by charge) or ?invoice=A&invoice=B (bulk, whole invoices)
    path("new/", views.DisputeFileView.as_view(), name="file"),
    path("<ref:reference>/", views.DisputeDetailView.as_view(), name="detail"),
    path("<ref:reference>/messages/", views.DisputeMessageView.as_view(), name="message"),
    path("<ref:reference>/withdraw/", views.DisputeWithdrawView.as_view(), name="withdraw"),
    path("<ref:reference>/attachments/<int:pk>/", views.DisputeAttachmentView.as_view(), name="attachment"),
]
