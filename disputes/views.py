"""Disputes pages (file, list, follow, attachments) and the Help & Support Center.

Every read goes through a scoped selector; outside the user's scope answers 404, a
role that may see but not dispute (View only) answers 403 on every write.
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import SuspiciousFileOperation
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views import View

from accounts.access import Action, require, user_can
from core.exceptions import ApplicationError, form_add_application_error
from core.files import StorageUnavailable, storage_download, storage_unavailable_response

from .forms import DisputeBulkForm, DisputeFileForm, DisputeListForm, DisputeMessageForm, HelpSearchForm
from .help_topics import DISPUTE_GUIDE_STEPS, help_guide_matches, help_search, help_sections
from .models import DisputeStatus
from .selectors import (
    dispute_age_days,
    dispute_attachment_get,
    dispute_get_visible,
    dispute_invoice_for_filing,
    dispute_invoices_for_filing,
    dispute_lines_for_filing,
    dispute_list,
    dispute_summary,
)
from .services.filing import dispute_file, dispute_file_bulk
from .services.messages import dispute_message_post
from .services.rules import dispute_online_refusal, dispute_target
from .services.workflow import dispute_withdraw

LIST_PAGE_SIZE = 25
BULK_MAX_INVOICES = 50


def _language(request) -> str:
    return translation.get_language() or "ko"


def _undisputed_balance(invoice, disputed: Decimal) -> Decimal:
    return max(invoice.balance - disputed, Decimal(0))


# --- Filing ------------------------------------------------------------------------------------


class DisputeFileView(LoginRequiredMixin, View):
    """``/disputes/new/?invoice=<number>`` (one invoice, by charge) or ``?invoice=A&invoice=B`` (bulk)."""

    def _numbers(self, request) -> list[str]:
        numbers = []
        for number in request.GET.getlist("invoice"):
            number = number.strip()
            if number and number not in numbers and "\x00" not in number:  # NUL: no such invoice
                numbers.append(number)
        return numbers

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if request.method not in ("GET", "HEAD", "POST"):
            return self.http_method_not_allowed(request, *args, **kwargs)
        numbers = self._numbers(request)
        if not numbers:
            return render(request, "disputes/dispute_start.html", {})
        if len(numbers) > BULK_MAX_INVOICES:
            messages.error(
                request,
                _("Select at most %(count)d invoices to dispute at once.") % {"count": BULK_MAX_INVOICES},
            )
            return HttpResponseRedirect(reverse("invoices:account_list"))
        if len(numbers) == 1:
            invoice = dispute_invoice_for_filing(user=request.user, number=numbers[0])
            if invoice is None:
                raise Http404
            require(request.user, Action.DISPUTE, **dispute_target(invoice))
            if dispute_online_refusal(invoice):
                return render(request, "disputes/dispute_offline.html", {"invoices": [invoice]})
            return self.single(request, invoice)
        invoices = dispute_invoices_for_filing(user=request.user, numbers=numbers)
        if len(invoices) != len(numbers):
            raise Http404
        for invoice in invoices:
            require(request.user, Action.DISPUTE, **dispute_target(invoice))
        offline = [invoice for invoice in invoices if dispute_online_refusal(invoice)]
        online = [invoice for invoice in invoices if not dispute_online_refusal(invoice)]
        if not online:
            return render(request, "disputes/dispute_offline.html", {"invoices": offline})
        return self.bulk(request, online, offline)

    # One invoice: charges, reasons and amounts.
    def single(self, request, invoice):
        lines, covering = dispute_lines_for_filing(invoice=invoice)
        whole_open = covering.get(None)
        if request.method == "POST":
            form = DisputeFileForm(request.POST, request.FILES, invoice=invoice, lines=lines)
            if form.is_valid():
                try:
                    dispute = dispute_file(
                        invoice=invoice,
                        items=form.cleaned_data["items"],
                        comment=form.cleaned_data.get("comment", ""),
                        attachments=form.cleaned_data.get("attachments") or [],
                        actor=request.user,
                        language=_language(request),
                    )
                except ApplicationError as error:
                    form_add_application_error(form, error)
                else:
                    messages.success(
                        request,
                        _("Your dispute %(reference)s was filed. We will e-mail you at each step.")
                        % {"reference": dispute.reference},
                    )
                    return HttpResponseRedirect(reverse("disputes:detail", args=[dispute.reference]) + "?filed=1")
        else:
            form = DisputeFileForm(invoice=invoice, lines=lines)
        context = {"invoice": invoice, "form": form, "whole_open": whole_open}
        return render(request, "disputes/dispute_form.html", context, status=400 if form.errors else 200)

    # Several invoices, each disputed whole for one reason.
    def bulk(self, request, invoices, offline):
        if request.method == "POST":
            form = DisputeBulkForm(request.POST, request.FILES)
            if form.is_valid():
                try:
                    disputes = dispute_file_bulk(
                        invoices=invoices,
                        reason=form.cleaned_data["reason"],
                        comment=form.cleaned_data.get("comment", ""),
                        attachments=form.cleaned_data.get("attachments") or [],
                        actor=request.user,
                        language=_language(request),
                    )
                except ApplicationError as error:
                    form_add_application_error(form, error)
                else:
                    messages.success(
                        request,
                        _("%(count)d disputes were filed: %(references)s.")
                        % {"count": len(disputes), "references": ", ".join(d.reference for d in disputes)},
                    )
                    return HttpResponseRedirect(reverse("disputes:list"))
        else:
            form = DisputeBulkForm()
        totals: dict[str, Decimal] = {}
        for invoice in invoices:
            totals[invoice.currency] = totals.get(invoice.currency, Decimal(0)) + invoice.total
        context = {
            "invoices": invoices,
            "offline": offline,
            "form": form,
            "totals": sorted(totals.items()),
        }
        return render(request, "disputes/dispute_bulk_form.html", context, status=400 if form.errors else 200)


# --- Following ---------------------------------------------------------------------------------


class DisputeListView(LoginRequiredMixin, View):
    def get(self, request):
        form = DisputeListForm(request.GET or None)
        filters = form.cleaned_data if form.is_valid() else {}
        queryset = dispute_list(user=request.user, filters=filters)
        page = Paginator(queryset, LIST_PAGE_SIZE).get_page(request.GET.get("page"))
        today = timezone.localdate()
        rows = [{"dispute": d, "age": dispute_age_days(d, today)} for d in page.object_list]
        invoice = None
        if filters.get("invoice"):
            invoice = dispute_invoice_for_filing(user=request.user, number=filters["invoice"])
        context = {
            "invoice": invoice,
            "invoice_can_dispute": invoice is not None
            and user_can(request.user, Action.DISPUTE, **dispute_target(invoice)),
            "form": form,
            "page": page,
            "rows": rows,
            "summary": dispute_summary(user=request.user),
            "querystring": _without_page(request),
        }
        return render(request, "disputes/dispute_list.html", context)


def _without_page(request) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


def dispute_timeline(dispute) -> list[dict]:
    """The four steps customers follow: submitted → under review → decision → closed."""
    events = {event.to_status: event for event in dispute.events.all()}
    decision = next(
        (
            events[s]
            for s in (DisputeStatus.APPROVED, DisputeStatus.PARTLY_APPROVED, DisputeStatus.REJECTED)
            if s in events
        ),
        None,
    )
    steps = [
        {"key": "submitted", "label": DisputeStatus.SUBMITTED.label, "event": events.get(DisputeStatus.SUBMITTED)},
        {
            "key": "under_review",
            "label": DisputeStatus.UNDER_REVIEW.label,
            "event": events.get(DisputeStatus.UNDER_REVIEW),
        },
        {
            "key": "decision",
            "label": decision.get_to_status_display() if decision else _("Decision"),
            "event": decision,
        },
        {"key": "closed", "label": DisputeStatus.CLOSED.label, "event": events.get(DisputeStatus.CLOSED)},
    ]
    if decision is None and DisputeStatus.CLOSED in events:
        steps[2]["label"] = _("Withdrawn or closed without a decision")
    current_found = False
    for step in reversed(steps):
        step["done"] = step["event"] is not None
        step["current"] = step["done"] and not current_found
        current_found = current_found or step["done"]
    for step in steps:
        if step["event"] is None:
            step["skipped"] = any(s["done"] for s in steps[steps.index(step) + 1 :])
    return steps


class DisputeDetailView(LoginRequiredMixin, View):
    def _dispute(self, request, reference):
        dispute = dispute_get_visible(user=request.user, reference=reference)
        if dispute is None:
            raise Http404
        require(request.user, Action.VIEW, **dispute_target(dispute.invoice))
        return dispute

    def get(self, request, reference, message_form=None, status=200):
        dispute = self._dispute(request, reference)
        invoice = dispute.invoice
        can_act = user_can(request.user, Action.DISPUTE, **dispute_target(invoice))
        open_disputed = dispute.disputed_amount if dispute.is_open else Decimal(0)
        context = {
            "dispute": dispute,
            "invoice": invoice,
            "items": list(dispute.items.all()),
            "attachments": list(dispute.attachments.all()),
            "timeline": dispute_timeline(dispute),
            "can_act": can_act,
            "can_message": can_act and dispute.status != DisputeStatus.CLOSED,
            "can_withdraw": can_act and dispute.is_open,
            "message_form": message_form or DisputeMessageForm(),
            "undisputed_balance": _undisputed_balance(invoice, open_disputed),
            "just_filed": request.GET.get("filed") == "1",
            "can_pay": invoice.balance > 0 and user_can(request.user, Action.PAY, **dispute_target(invoice)),
        }
        return render(request, "disputes/dispute_detail.html", context, status=status)


class DisputeMessageView(DisputeDetailView):
    def get(self, request, reference):  # noqa: D102 - a POST-only URL
        return HttpResponseRedirect(reverse("disputes:detail", args=[reference]))

    def post(self, request, reference):
        dispute = self._dispute(request, reference)
        require(request.user, Action.DISPUTE, **dispute_target(dispute.invoice))
        form = DisputeMessageForm(request.POST)
        if form.is_valid():
            try:
                dispute_message_post(dispute=dispute, author=request.user, body=form.cleaned_data["body"])
            except ApplicationError as error:
                form_add_application_error(form, error)
            else:
                messages.success(request, _("Your message was sent to billing staff."))
                return HttpResponseRedirect(reverse("disputes:detail", args=[reference]) + "#messages")
        return DisputeDetailView.get(self, request, reference, message_form=form, status=400)


class DisputeWithdrawView(DisputeDetailView):
    def get(self, request, reference):
        return HttpResponseRedirect(reverse("disputes:detail", args=[reference]))

    def post(self, request, reference):
        dispute = self._dispute(request, reference)
        require(request.user, Action.DISPUTE, **dispute_target(dispute.invoice))
        try:
            dispute_withdraw(dispute=dispute, actor=request.user)
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("The dispute was withdrawn and closed."))
        return HttpResponseRedirect(reverse("disputes:detail", args=[reference]))


class DisputeAttachmentView(View):
    """An attachment as a download, only to who may see the dispute (or billing staff)."""

    def get(self, request, reference, pk):
        user = request.user
        if not user.is_authenticated:
            raise Http404
        attachment = dispute_attachment_get(reference=reference, pk=pk)
        if attachment is None:
            raise Http404
        staff = user.is_staff and user.has_perm("disputes.view_dispute")
        if not staff:
            if dispute_get_visible(user=user, reference=reference) is None:
                raise Http404
            require(user, Action.VIEW, **dispute_target(attachment.dispute.invoice))
        try:
            # Through the storage API (a private folder, or object storage), always streamed by
            # the portal even with BC_STORAGE_DOWNLOADS=redirect: a signed URL could not carry
            # nosniff, and evidence is at most 5 MB.
            response = storage_download(
                name=attachment.file,
                filename=attachment.name,
                content_type=attachment.content_type,
                as_attachment=True,
                redirect=False,
            )
        except (FileNotFoundError, SuspiciousFileOperation):
            raise Http404 from None
        except StorageUnavailable:
            return storage_unavailable_response(request)
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-store"
        return response


# --- Help & Support Center ---------------------------------------------------------------------


class HelpCenterView(View):
    """``/help/``: public, searchable (``?q=``) in Korean and English."""

    def get(self, request):
        form = HelpSearchForm(request.GET or None)
        query = form.cleaned_data.get("q", "") if form.is_valid() else ""
        topics = help_search(query)
        context = {
            "form": form,
            "query": query,
            "sections": help_sections(topics),
            "result_count": len(topics),
            "guide_steps": [str(step) for step in DISPUTE_GUIDE_STEPS],
            "show_guide": help_guide_matches(query),
        }
        return render(request, "help/help_center.html", context)
