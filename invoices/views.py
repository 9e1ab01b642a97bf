"""Invoice centre pages: the two invoice tables, the detail, every format, bulk ZIPs, shipping history.

Every read goes through a scoped selector; an invoice outside the user's scope answers 404.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import (
    Http404,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from accounts.access import Action, user_can
from core.exceptions import ApplicationError
from core.files import StorageUnavailable, storage_download, storage_unavailable_response

from .formats.archive import stream_zip
from .formats.common import export_filename
from .formats.csv import invoices_csv_bytes
from .formats.pdf import invoice_document_context
from .formats.xml import invoice_xml_bytes
from .forms import BULK_MAX_INVOICES, BulkDownloadForm, InvoiceTableForm, ShipmentFilterForm
from .models import ExportFormat, ExportJob, Invoice
from .registry import detail_sections
from .selectors.scope import (
    InvoiceAccess,
    billable_choices,
    billable_choices_visible,
    billables_visible,
    export_job_get,
    invoice_for_user,
    invoice_ids_visible,
    invoice_list_for_export,
    shipment_account_choices,
    shipment_history,
)
from .selectors.tables import PAGE_SIZES, TABLE_FILTER_KEYS, InvoiceTablePage, invoice_table_ids, invoice_table_page_get
from .services import (
    BULK_SYNC_LIMIT,
    export_check_allowed,
    export_job_create,
    export_job_file_name,
    export_members,
    export_zip_name,
    invoice_document_get,
)

SHIPMENT_PAGE_SIZE = 25


def _query(params: QueryDict, **changes) -> str:
    """``?…`` of ``params`` with ``changes`` applied (None removes a key); empty values dropped."""
    merged = params.copy()
    for key, value in changes.items():
        merged.pop(key, None)
        if value is not None and value != "":
            merged[key] = str(value)
    pairs = [(key, value) for key, values in merged.lists() for value in values if value != ""]
    return "?" + urlencode(pairs) if pairs else "?"


# The links of an invoice row (its number and its Actions menu). Reversed for each row of a page
# they cost ~10 ms of a 25 ms table page (issue 8): each is reversed once per page with a
# placeholder, and each row's invoice number put in its place. A number of other characters than
# these is reversed on its own (Django percent-encodes what a URL cannot hold).
_NUMBER_PLACEHOLDER = "NUMBER-PLACEHOLDER"
_PLAIN_NUMBER = re.compile(r"[A-Za-z0-9_.~-]+")


class _RowUrls:
    PER_INVOICE = {
        "detail": "invoices:detail",
        "print": "invoices:print",
        "pdf": "invoices:pdf",
        "csv": "invoices:csv",
        "xml": "invoices:xml",
    }
    FIXED = {"accounts": "manage:accounts", "plans": "manage:plans", "pay": "payments:pay", "dispute": "disputes:file"}

    def __init__(self):
        self.patterns = {key: reverse(name, args=[_NUMBER_PLACEHOLDER]) for key, name in self.PER_INVOICE.items()}
        self.fixed = {key: reverse(name) for key, name in self.FIXED.items()}

    def of(self, number: str) -> dict[str, str]:
        if _PLAIN_NUMBER.fullmatch(number) and _NUMBER_PLACEHOLDER not in number:
            own = {key: pattern.replace(_NUMBER_PLACEHOLDER, number) for key, pattern in self.patterns.items()}
        else:
            own = {key: reverse(name, args=[number]) for key, name in self.PER_INVOICE.items()}
        return {**self.fixed, **own}


@dataclass
class InvoiceRow:
    invoice: Invoice
    can_pay: bool
    can_dispute: bool
    can_download: bool
    can_manage: bool
    urls: dict[str, str]

    @property
    def billable(self):
        return self.invoice.billable

    @property
    def is_temporary(self) -> bool:
        """A 10-digit temporary account number cannot be paid or disputed online (R1, R21)."""
        return bool(self.invoice.account_id and self.invoice.account.is_temporary)


def _invoice_rows(user, invoices) -> list[InvoiceRow]:
    rows = []
    urls = _RowUrls()
    for invoice in invoices:
        target = {"account": invoice.account} if invoice.account_id else {"plan": invoice.plan}
        rows.append(
            InvoiceRow(
                invoice=invoice,
                can_pay=user_can(user, Action.PAY, **target),
                can_dispute=user_can(user, Action.DISPUTE, **target),
                can_download=user_can(user, Action.DOWNLOAD, **target),
                can_manage=user_can(user, Action.MANAGE_ACCOUNTS, **target),
                urls=urls.of(invoice.number),
            )
        )
    return rows


def _invoice_row(access: InvoiceAccess) -> InvoiceRow:
    """The row of one invoice from the user's role over it (``invoice_for_user``)."""
    return InvoiceRow(
        invoice=access.invoice,
        can_pay=access.can_pay,
        can_dispute=access.can_dispute,
        can_download=access.can_download,
        can_manage=access.can_manage,
        urls=_RowUrls().of(access.invoice.number),
    )


def _invoice_or_404(request, number: str, action: Action, *, today=None) -> InvoiceAccess:
    """The one way an invoice page finds its invoice: 404 outside the user's scope, 403 where
    the user's role does not allow ``action`` (what ``accounts.access.require`` answers)."""
    access = invoice_for_user(user=request.user, number=number, action=action, today=today)
    if access is None:
        raise Http404
    if not access.allowed:
        raise PermissionDenied
    return access


COLUMNS = [
    ("number", gettext_lazy("Invoice number"), False),
    ("billable", None, False),
    ("invoice_date", gettext_lazy("Invoice date"), False),
    ("due_date", gettext_lazy("Due date"), False),
    ("total", gettext_lazy("Amount"), True),
    ("balance", gettext_lazy("Balance due"), True),
    ("status", gettext_lazy("Status"), False),
]


def _columns(request, table: InvoiceTablePage) -> list[dict]:
    """The column headers: label, sort state (aria-sort) and the link that sorts by the column."""
    columns = []
    for key, label, numeric in COLUMNS:
        if key == "billable":
            label = _("Plan") if table.kind == "plan" else _("Account")
        if table.sort == key:
            aria, next_sort = "ascending", f"-{key}"
        elif table.sort == f"-{key}":
            aria, next_sort = "descending", key
        else:
            aria, next_sort = "none", key
        columns.append(
            {
                "key": key,
                "label": label,
                "numeric": numeric,
                "aria_sort": aria,
                "url": _query(request.GET, sort=next_sort, page=None, after=None, before=None),
            }
        )
    return columns


def _page_links(request, table: InvoiceTablePage) -> dict[str, str | None]:
    """First, Previous, Next, Last: Previous and Next carry the cursor of the page they lead to."""
    page = table.page

    def link(number: int, **cursor) -> str:
        return _query(request.GET, page=number, after=cursor.get("after"), before=cursor.get("before"))

    return {
        "first": link(1),
        "previous": link(page.previous_page_number(), before=table.previous_cursor) if page.has_previous() else None,
        "next": link(page.next_page_number(), after=table.next_cursor) if page.has_next() else None,
        "last": link(table.paginator.num_pages),
    }


class InvoiceTableView(LoginRequiredMixin, View):
    """My Account Invoices / My Plan Invoices (R9): the whole state lives in the URL."""

    kind = "account"

    def get(self, request):
        today = timezone.localdate()
        billables = billables_visible(user=request.user, kind=self.kind)
        form = InvoiceTableForm(request.GET or None, kind=self.kind, billable_choices=billable_choices(billables))
        table = invoice_table_page_get(
            user=request.user,
            kind=self.kind,
            filters=form.filters(),
            today=today,
            billables=billables,
            after=request.GET.get("after"),
            before=request.GET.get("before"),
        )
        context = {
            "kind": self.kind,
            "title": _("My Plan Invoices") if self.kind == "plan" else _("My Account Invoices"),
            "form": form,
            "rows": _invoice_rows(request.user, table.rows),
            "page": table.page,
            "paginator": table.paginator,
            "page_links": _page_links(request, table),
            "columns": _columns(request, table),
            "totals": table.totals,
            "has_filters": any(request.GET.get(key) for key in TABLE_FILTER_KEYS),
            "clear_url": request.path,
            "page_sizes": PAGE_SIZES,
            "query": request.GET.urlencode(),
            "today": today,
            "bulk_sync_limit": BULK_SYNC_LIMIT,
            "formats": ExportFormat.choices,
        }
        return render(request, "invoices/invoice_list.html", context)


class AccountInvoiceListView(InvoiceTableView):
    kind = "account"


class PlanInvoiceListView(InvoiceTableView):
    kind = "plan"


def _plausible_number(number: str) -> bool:
    """A submitted invoice number the database can even compare (PostgreSQL refuses NUL).

    Path values are already refused by the ``ref`` converter; this checks form values."""
    return 0 < len(number) <= 20 and "\x00" not in number


class InvoiceDetailView(LoginRequiredMixin, View):
    def get(self, request, number):
        today = timezone.localdate()
        access = _invoice_or_404(request, number, Action.VIEW, today=today)
        invoice = access.invoice
        context = invoice_document_context(invoice) | {
            "row": _invoice_row(access),
            "today": today,
            # Payments applied, disputes: sections the apps that own them add (one query each).
            "sections": detail_sections.for_invoice(invoice=invoice, user=request.user),
        }
        return render(request, "invoices/invoice_detail.html", context)


class InvoicePrintView(LoginRequiredMixin, View):
    """A print-ready page of the invoice; static/js/invoices.js opens the print dialog."""

    def get(self, request, number):
        invoice = _invoice_or_404(request, number, Action.VIEW).invoice
        context = invoice_document_context(invoice) | {"version": None}
        return render(request, "invoices/invoice_print.html", context)


# A stored PDF (~35 kB) is sent in one read; under gunicorn, wsgi.file_wrapper sends the file.
PDF_BLOCK_SIZE = 256 * 1024


class InvoicePdfView(LoginRequiredMixin, View):
    def get(self, request, number):
        invoice = _invoice_or_404(request, number, Action.DOWNLOAD).invoice
        try:
            # The stored file of the current version; rendered only when none is stored.
            document = invoice_document_get(invoice=invoice, language=translation.get_language() or "ko")
            # Streamed, or a redirect to a signed URL (BC_STORAGE_DOWNLOADS), after the checks above.
            return storage_download(
                name=document.file,
                filename=export_filename(invoice, "pdf"),
                content_type="application/pdf",
                as_attachment=not request.GET.get("inline"),
                block_size=PDF_BLOCK_SIZE,
            )
        except (StorageUnavailable, FileNotFoundError):  # gone between the check and the read: rare
            return storage_unavailable_response(request)


class InvoiceCsvView(LoginRequiredMixin, View):
    def get(self, request, number):
        invoice = _invoice_or_404(request, number, Action.DOWNLOAD).invoice
        response = HttpResponse(invoices_csv_bytes([invoice]), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{export_filename(invoice, "csv")}"'
        return response


class InvoiceXmlView(LoginRequiredMixin, View):
    def get(self, request, number):
        invoice = _invoice_or_404(request, number, Action.DOWNLOAD).invoice
        if not invoice.billable.xml_enrolled:
            return render(request, "invoices/xml_not_enrolled.html", {"invoice": invoice}, status=403)
        response = HttpResponse(invoice_xml_bytes(invoice), content_type="application/xml; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{export_filename(invoice, "xml")}"'
        return response


class BulkDownloadView(LoginRequiredMixin, View):
    """Download selected (R12): one streamed ZIP, or a background job for a large selection."""

    def post(self, request):
        form = BulkDownloadForm(request.POST)
        kind = request.POST.get("kind") if request.POST.get("kind") in ("account", "plan") else "account"
        back = reverse(f"invoices:{kind}_list") + _query(QueryDict(request.POST.get("query", "")))
        if not form.is_valid():
            for errors in form.errors.values():
                for error in errors:
                    messages.error(request, error)
            return HttpResponseRedirect(back)
        data = form.cleaned_data
        user = request.user
        if data["select_all"]:
            # "All rows matching the filter": the server recomputes the selection, scoped.
            table_form = InvoiceTableForm(
                QueryDict(data["query"]),
                kind=kind,
                billable_choices=billable_choices_visible(user=user, kind=kind),
            )
            filters = table_form.filters()
            ids = invoice_table_ids(
                user=user, kind=kind, filters=filters, today=timezone.localdate(), limit=BULK_MAX_INVOICES + 1
            )
        else:
            numbers = set(data["invoice"])
            if not all(_plausible_number(number) for number in numbers):
                raise Http404
            ids = invoice_ids_visible(user=user, numbers=numbers)
            if len(ids) != len(numbers):
                # An unknown or foreign invoice number: never say which, never export anything.
                raise Http404
        if not ids:
            messages.error(request, _("No invoices match the filter: nothing to download."))
            return HttpResponseRedirect(back)
        if len(ids) > BULK_MAX_INVOICES:
            messages.error(
                request,
                _("Select at most %(max)d invoices per download.") % {"max": BULK_MAX_INVOICES},
            )
            return HttpResponseRedirect(back)

        invoices = list(invoice_list_for_export(user=user, ids=ids))
        for invoice in invoices:
            target = {"account": invoice.account} if invoice.account_id else {"plan": invoice.plan}
            if not user_can(user, Action.DOWNLOAD, **target):
                raise PermissionDenied
        language = translation.get_language() or "ko"
        try:
            export_check_allowed(invoices=invoices, format=data["format"])
            if len(invoices) > BULK_SYNC_LIMIT:
                job = export_job_create(
                    owner=user,
                    invoices=invoices,
                    format=data["format"],
                    language=language,
                    base_url=request.build_absolute_uri("/"),
                )
                return HttpResponseRedirect(reverse("invoices:export_job", args=[job.id]))
        except ApplicationError as error:
            messages.error(request, error.message)
            return HttpResponseRedirect(back)

        members = export_members(invoices=invoices, format=data["format"], language=language)
        try:
            # The first file is read before the response starts: with the file storage down the
            # person gets a page saying so, not a broken download.
            first = next(members, None)
        except StorageUnavailable:
            return storage_unavailable_response(request)
        members = itertools.chain([first] if first is not None else [], members)
        response = StreamingHttpResponse(stream_zip(members), content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{export_zip_name(data["format"])}"'
        return response


def _owned_job_or_404(request, job_id) -> ExportJob:
    job = export_job_get(user=request.user, job_id=job_id)
    if job is None:
        raise Http404
    return job


class ExportJobView(LoginRequiredMixin, View):
    def get(self, request, job_id):
        job = _owned_job_or_404(request, job_id)
        return render(request, "invoices/export_job.html", {"job": job})


class ExportJobStatusView(LoginRequiredMixin, View):
    """The progress page polls this (static/js/invoices.js)."""

    def get(self, request, job_id):
        job = _owned_job_or_404(request, job_id)
        return JsonResponse(
            {
                "status": job.status,
                "status_label": str(job.get_status_display()),
                "done": job.done,
                "total": job.total,
                "percent": job.percent,
                "error": job.error,
                "download_url": reverse("invoices:export_download", args=[job.id])
                if job.status == ExportJob.Status.READY
                else None,
            }
        )


class ExportJobDownloadView(LoginRequiredMixin, View):
    def get(self, request, job_id):
        job = _owned_job_or_404(request, job_id)
        if job.status == ExportJob.Status.EXPIRED:
            return self.expired(request, job)
        name = export_job_file_name(job)
        if name is None:
            raise Http404
        try:
            # From the shared storage, whichever host or worker built it.
            return storage_download(
                name=name,
                filename=f"invoices-{job.format}-{job.created_at:%Y%m%d-%H%M%S}.zip",
                content_type="application/zip",
                verify=True,
            )
        except FileNotFoundError:  # deleted by the retention purge a moment ago
            return self.expired(request, job)
        except StorageUnavailable:
            return storage_unavailable_response(request)

    def expired(self, request, job):
        """410: the file was deleted after BC_EXPORT_RETENTION_DAYS; the page says to make it again."""
        job.status = ExportJob.Status.EXPIRED
        return render(request, "invoices/export_job.html", {"job": job}, status=410)


class ShipmentListView(View):
    """Shipping history (R22). Anonymous visitors are told to log in or call the support line."""

    def get(self, request):
        if not request.user.is_authenticated:
            return render(request, "invoices/shipment_list_anonymous.html")
        form = ShipmentFilterForm(request.GET or None, account_choices=shipment_account_choices(user=request.user))
        filters = form.filters()
        queryset = shipment_history(user=request.user, filters=filters)
        paginator = Paginator(queryset, SHIPMENT_PAGE_SIZE)
        page = paginator.get_page(filters.get("page"))
        page_links = {
            "previous": _query(request.GET, page=page.previous_page_number()) if page.has_previous() else None,
            "next": _query(request.GET, page=page.next_page_number()) if page.has_next() else None,
        }
        has_filters = any(request.GET.get(key) for key in ("tracking", "account", "ship_date_from", "ship_date_to"))
        return render(
            request,
            "invoices/shipment_list.html",
            {"form": form, "page": page, "paginator": paginator, "page_links": page_links, "has_filters": has_filters},
        )
