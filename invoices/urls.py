from django.urls import path

import core.converters  # noqa: F401  registers the <ref:...> converter

from . import views

app_name = "invoices"

urlpatterns = [
    path("accounts/", views.AccountInvoiceListView.as_view(), name="account_list"),
    path("plans/", views.PlanInvoiceListView.as_view(), name="plan_list"),
    path("download/", views.BulkDownloadView.as_view(), name="bulk_download"),
    path("exports/<uuid:job_id>/", views.ExportJobView.as_view(), name="export_job"),
    path("exports/<uuid:job_id>/status/", views.ExportJobStatusView.as_view(), name="export_status"),
    path("exports/<uuid:job_id>/download/", views.ExportJobDownloadView.as_view(), name="export_download"),
    path("<ref:number>/", views.InvoiceDetailView.as_view(), name="detail"),
    path("<ref:number>/print/", views.InvoicePrintView.as_view(), name="print"),
    path("<ref:number>/pdf/", views.InvoicePdfView.as_view(), name="pdf"),
    path("<ref:number>/csv/", views.InvoiceCsvView.as_view(), name="csv"),
    path("<ref:number>/xml/", views.InvoiceXmlView.as_view(), name="xml"),
]
