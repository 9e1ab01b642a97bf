"""Invoice centre pages: the two invoice tables, the detail, every format, bulk ZIPs, shipping history.

Every read goes through a scoped selector; an invoice outside the user's scope answers 404.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import (
    FileResponse,
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

from accounts.access import Action, require, role_allows, user_can
from core.exceptions import ApplicationError
from core.keyset import position_from_token, position_token

from .formats.archive import stream_zip
from .formats.common import export_filename
from .formats.csv import invoices_csv_bytes
from .formats.pdf import invoice_document_context
from .formats.xml import invoice_xml_bytes
from .forms import (
    BULK_MAX_INVOICES,
    DEFAULT_PAGE_SIZE,
    PAGE_SIZES,
    BulkDownloadForm,
    InvoiceTableForm,
    ShipmentFilterForm,
)
from .models import ExportFormat, ExportJob, Invoice
from .selectors import (
    INVOICE_DEFAULT_SORT,
    TABLE_FILTER_KEYS,
    billable_choices,
    billable_choices_visible,
    billables_visible,
    invoice_detail_visible,
    invoice_get_for_download,
    invoice_list_for_export,
    invoice_list_visible,
    invoice_table,
    invoice_table_page,
    invoice_table_segments,
    invoice_table_totals,
    invoice_table_totals_key,
    shipment_history,
)
from .services import (
    BULK_SYNC_LIMIT,
    export_check_allowed,
    export_job_create,
    export_job_file_path,
    export_members,
    export_zip_name,
    invoice_document_get,
    invoice_document_path,
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


def _require_on_invoice(user, action: Action, invoice: Invoice) -> None:
    if invoice.account_id:
        require(user, action, account=invoice.account)
    else:
        require(user, action, plan=invoice.plan)


COLUMNS = [
    ("number", gettext_lazy("Invoice number"), False),
    ("billable", None, False),
    ("invoice_date", gettext_lazy("Invoice date"), False),
    ("due_date", gettext_lazy("Due date"), False),
    ("total", gettext_lazy("Amount"), True),
    ("balance", gettext_lazy("Balance due"), True),
    ("status", gettext_lazy("Status"), False),
]


def _page_context(kind: str, filters: dict, page_number: int) -> str:
    """What a page link's position token is valid for: this table, sort, filter and page."""
    signature = sorted((key, str(value)) for key, value in filters.items() if key != "page")
    return hashlib.sha256(repr((kind, page_number, signature)).encode()).hexdigest()[:24]


class InvoiceTableView(LoginRequiredMixin, View):
    """My Account Invoices / My Plan Invoices (R9): the whole state lives in the URL."""

    kind = "account"

    def get(self, request):
        today = timezone.localdate()
        billables = billables_visible(user=request.user, kind=self.kind)
        scope_ids = [pk for pk, _number, _name in billables]
        form = InvoiceTableForm(request.GET or None, kind=self.kind, billable_choices=billable_choices(billables))
        filters = form.filters()
        queryset = invoice_table(user=request.user, kind=self.kind, filters=filters, today=today, scope_ids=scope_ids)
        totals = invoice_table_totals(
            queryset=queryset,
            kind=self.kind,
            today=today,
            cache_key=invoice_table_totals_key(
                user=request.user,
                kind=self.kind,
                filters=filters,
                today=today,
                scope=scope_ids,
            ),
        )
        page_size = filters.get("page_size", DEFAULT_PAGE_SIZE)
        paginator = Paginator(queryset, page_size)
        paginator.count = totals.count  # known from the totals query: no second COUNT
        page = paginator.get_page(filters.get("page"))
        # Previous/Next links carry the edge row of the page they come from (a signed token):
        # the page is an index seek from there, as cheap at page 1,000 as at page 1. A page
        # number alone (typed, or an old link) is read by offset.
        segments = invoice_table_segments(kind=self.kind, sort=filters.get("sort"), today=today, billables=billables)
        edges = {
            direction: position_from_token(
                request.GET[direction],
                context=_page_context(self.kind, filters, page.number),
                width=len(segments[0].fields),
            )
            for direction in ("after", "before")
            if request.GET.get(direction) and segments
        }
        table_page = invoice_table_page(
            queryset=queryset,
            segments=segments,
            totals=totals,
            limit=page_size,
            today=today,
            filters=filters,
            offset=page.start_index() - 1 if totals.count else 0,
            after=edges.get("after"),
            before=None if edges.get("after") else edges.get("before"),
        )
        page.object_list = table_page.rows
        rows = _invoice_rows(request.user, page.object_list)

        sort = filters.get("sort") or INVOICE_DEFAULT_SORT
        columns = []
        for key, label, numeric in COLUMNS:
            if key == "billable":
                label = _("Plan") if self.kind == "plan" else _("Account")
            if sort == key:
                aria, next_sort = "ascending", f"-{key}"
            elif sort == f"-{key}":
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

        def link(number: int, **edge) -> str:
            """The URL of page ``number``; ``edge``: after= or before= the row this page shows."""
            tokens = {"after": None, "before": None}
            for direction, position in edge.items():
                if position is not None:
                    tokens[direction] = position_token(position, context=_page_context(self.kind, filters, number))
            return _query(request.GET, page=number, **tokens)

        page_links = {
            "first": link(1),
            "previous": link(page.previous_page_number(), before=table_page.first) if page.has_previous() else None,
            "next": link(page.next_page_number(), after=table_page.last) if page.has_next() else None,
            "last": link(paginator.num_pages),
        }
        has_filters = any(request.GET.get(key) for key in TABLE_FILTER_KEYS)
        context = {
            "kind": self.kind,
            "title": _("My Plan Invoices") if self.kind == "plan" else _("My Account Invoices"),
            "form": form,
            "rows": rows,
            "page": page,
            "paginator": paginator,
            "page_links": page_links,
            "columns": columns,
            "totals": totals,
            "has_filters": has_filters,
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


def _visible_invoice_or_404(request, number: str, action: Action) -> Invoice:
    invoice = invoice_list_for_export(user=request.user, numbers=[number]).first()
    if invoice is None:
        raise Http404
    _require_on_invoice(request.user, action, invoice)
    return invoice


class InvoiceDetailView(LoginRequiredMixin, View):
    def get(self, request, number):
        today = timezone.localdate()
        invoice = invoice_detail_visible(user=request.user, number=number, today=today)
        if invoice is None:
            raise Http404
        _require_on_invoice(request.user, Action.VIEW, invoice)
        row = _invoice_rows(request.user, [invoice])[0]
        context = invoice_document_context(invoice) | {
            "row": row,
            "today": today,
            "allocations": list(invoice.allocations.all()),
            "disputes": list(invoice.disputes.all()),
        }
        return render(request, "invoices/invoice_detail.html", context)


class InvoicePrintView(LoginRequiredMixin, View):
    """A print-ready page of the invoice; static/js/invoices.js opens the print dialog."""

    def get(self, request, number):
        invoice = _visible_invoice_or_404(request, number, Action.VIEW)
        context = invoice_document_context(invoice) | {"version": None}
        return render(request, "invoices/invoice_print.html", context)


def _downloadable_invoice_or_404(request, number: str) -> Invoice:
    """``_visible_invoice_or_404(..., Action.DOWNLOAD)`` in one query instead of four (issue 8).

    The scoped selector finds the invoice (outside the user's accounts and plans: 404); the
    user's role in the invoice's company comes with it, and ``role_allows`` decides (403). For a
    visible invoice that is the role ``require`` finds: the scope already holds the account or plan.
    """
    invoice = invoice_get_for_download(user=request.user, number=number)
    if invoice is None:
        raise Http404
    if not role_allows(invoice.user_role or "", Action.DOWNLOAD):
        raise PermissionDenied
    return invoice


# A stored PDF (~35 kB) is sent in one read; under gunicorn, wsgi.file_wrapper sends the file.
PDF_BLOCK_SIZE = 256 * 1024


class InvoicePdfView(LoginRequiredMixin, View):
    def get(self, request, number):
        invoice = _downloadable_invoice_or_404(request, number)
        # The stored file of the current version; rendered only when none is stored.
        document = invoice_document_get(invoice=invoice, language=translation.get_language() or "ko")
        response = FileResponse(
            open(invoice_document_path(document), "rb"),  # noqa: SIM115 - FileResponse closes it
            as_attachment=not request.GET.get("inline"),
            filename=export_filename(invoice, "pdf"),
            content_type="application/pdf",
        )
        response.block_size = PDF_BLOCK_SIZE
        return response


class InvoiceCsvView(LoginRequiredMixin, View):
    def get(self, request, number):
        invoice = _downloadable_invoice_or_404(request, number)
        response = HttpResponse(invoices_csv_bytes([invoice]), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{export_filename(invoice, "csv")}"'
        return response


class InvoiceXmlView(LoginRequiredMixin, View):
    def get(self, request, number):
        invoice = _downloadable_invoice_or_404(request, number)
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
            ids = list(
                invoice_table(user=user, kind=kind, filters=filters, today=timezone.localdate()).values_list(
                    "id", flat=True
                )[: BULK_MAX_INVOICES + 1]
            )
        else:
            numbers = set(data["invoice"])
            if not all(_plausible_number(number) for number in numbers):
                raise Http404
            ids = list(invoice_list_visible(user=user).filter(number__in=numbers).values_list("id", flat=True))
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
        response = StreamingHttpResponse(stream_zip(members), content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{export_zip_name(data["format"])}"'
        return response


def _owned_job_or_404(request, job_id) -> ExportJob:
    job = ExportJob.objects.filter(pk=job_id, owner=request.user).first()
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
        path = export_job_file_path(job)
        if path is None:
            raise Http404
        return FileResponse(
            open(path, "rb"),  # noqa: SIM115 - FileResponse closes it
            as_attachment=True,
            filename=f"invoices-{job.format}-{job.created_at:%Y%m%d-%H%M%S}.zip",
            content_type="application/zip",
        )


class ShipmentListView(View):
    """Shipping history (R22). Anonymous visitors are told to log in or call the support line."""

    def get(self, request):
        if not request.user.is_authenticated:
            return render(request, "invoices/shipment_list_anonymous.html")
        from accounts.selectors import account_list_visible

        account_choices = [
            (number, f"{number} · {name}")
            for number, name in account_list_visible(user=request.user).values_list("number", "name")
        ]
        form = ShipmentFilterForm(request.GET or None, account_choices=account_choices)
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
