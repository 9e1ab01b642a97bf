"""The billing staff's dispute queue in Django admin: filters, search, assignment, decisions.

Every change goes through ``disputes.services`` (audited with the staff member, e-mailed to the
filer); the admin never edits a dispute's fields directly. Registered from ``disputes/admin.py``.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core.admin_utils import money_column
from core.exceptions import ApplicationError, form_add_application_error
from core.forms import MoneyField
from core.money import format_money

from .models import (
    OPEN_DISPUTE_STATUSES,
    Dispute,
    DisputeAttachment,
    DisputeEvent,
    DisputeItem,
    DisputeMessage,
    DisputeReason,
    DisputeStatus,
)
from .services.decisions import Decision, dispute_decide
from .services.messages import dispute_message_post
from .services.rules import dispute_needs_supervisor, dispute_supervisor_threshold
from .services.workflow import dispute_assign, dispute_close, dispute_transition

# --- Filters ------------------------------------------------------------------------------------


class ReasonFilter(admin.SimpleListFilter):
    title = _("reason")
    parameter_name = "reason"

    def lookups(self, request, model_admin):
        return DisputeReason.choices

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(items__reason=self.value()).distinct()
        return queryset


class AgeFilter(admin.SimpleListFilter):
    """How long ago the dispute was filed (Asia/Seoul days)."""

    title = _("age")
    parameter_name = "age"
    BUCKETS = {"0-7": (0, 7), "8-30": (8, 30), "31-60": (31, 60), "61+": (61, None)}

    def lookups(self, request, model_admin):
        return (
            ("0-7", _("up to 7 days")),
            ("8-30", _("8 to 30 days")),
            ("31-60", _("31 to 60 days")),
            ("61+", _("over 60 days")),
        )

    def queryset(self, request, queryset):
        bucket = self.BUCKETS.get(self.value() or "")
        if bucket is None:
            return queryset
        youngest, oldest = bucket
        today = timezone.localdate()
        tz = timezone.get_current_timezone()

        def start_of(day: datetime.date) -> datetime.datetime:
            return datetime.datetime.combine(day, datetime.time.min, tzinfo=tz)

        queryset = queryset.filter(created_at__lt=start_of(today - datetime.timedelta(days=youngest - 1)))
        if oldest is not None:
            queryset = queryset.filter(created_at__gte=start_of(today - datetime.timedelta(days=oldest)))
        return queryset


class AmountFilter(admin.SimpleListFilter):
    """Disputed amount against the supervisor threshold of the invoice's currency."""

    title = _("amount")
    parameter_name = "amount"

    def lookups(self, request, model_admin):
        return (
            ("above", _("above the supervisor threshold")),
            ("below", _("within the supervisor threshold")),
        )

    def queryset(self, request, queryset):
        from django.conf import settings

        limits = getattr(settings, "DISPUTE_SUPERVISOR_THRESHOLD", {}) or {}
        above = Q(pk__in=[])
        for currency, limit in limits.items():
            above |= Q(invoice__currency=currency, disputed_amount__gt=Decimal(limit))
        if self.value() == "above":
            return queryset.filter(above)
        if self.value() == "below":
            return queryset.exclude(above)
        return queryset


class AssigneeFilter(admin.SimpleListFilter):
    title = _("assignee")
    parameter_name = "assignee"

    def lookups(self, request, model_admin):
        User = get_user_model()
        staff = User.objects.filter(is_staff=True, is_active=True).order_by("username")
        return [("me", _("assigned to me")), ("none", _("unassigned"))] + [(str(u.pk), u.username) for u in staff]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "me":
            return queryset.filter(assignee=request.user)
        if value == "none":
            return queryset.filter(assignee__isnull=True)
        if value and value.isdigit():
            return queryset.filter(assignee_id=int(value))
        return queryset


class OpenFilter(admin.SimpleListFilter):
    title = _("queue")
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return (("open", _("open (submitted or under review)")), ("decided", _("decided or closed")))

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(status__in=OPEN_DISPUTE_STATUSES)
        if self.value() == "decided":
            return queryset.exclude(status__in=OPEN_DISPUTE_STATUSES)
        return queryset


# --- Forms --------------------------------------------------------------------------------------


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Decision"),
        widget=forms.RadioSelect,
        choices=(
            (Decision.APPROVE, _("Approve in full (credit the disputed amount)")),
            (Decision.PARTIAL, _("Approve in part (credit the amount below)")),
            (Decision.REJECT, _("Reject (give the reason below)")),
        ),
    )
    amount = MoneyField(label=_("Credit for a partial approval"), required=False)
    reason = forms.CharField(
        label=_("Reason shown to the customer"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 70}),
        help_text=_("Required for a rejection."),
    )
    reply = forms.CharField(
        label=_("Message to the customer (optional)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 70}),
    )

    def __init__(self, *args, currency: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["amount"].currency = currency  # the invoice's: KRW takes no decimals


class ReplyForm(forms.Form):
    body = forms.CharField(label=_("Message"), widget=forms.Textarea(attrs={"rows": 5, "cols": 70}))
    internal = forms.BooleanField(
        label=_("Internal note (staff only; the customer never sees it and gets no e-mail)"), required=False
    )


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(label=_("Assign to"), queryset=None)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = (
            get_user_model().objects.filter(is_staff=True, is_active=True).order_by("username")
        )


# --- Inlines (read-only: changes go through the services) ---------------------------------------


class _ReadOnlyInline:
    """Shown to whoever may see the dispute (its items, files, timeline and notes are part of it)."""

    extra = 0
    can_delete = False

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("disputes.view_dispute") or request.user.has_perm("disputes.change_dispute")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class DisputeItemInline(_ReadOnlyInline, admin.TabularInline):
    model = DisputeItem
    fields = ("line", "tracking_number", "reason", "amount")
    readonly_fields = fields

    @admin.display(description=_("tracking number"))
    def tracking_number(self, obj):
        return obj.line.shipment.tracking_number if obj.line_id and obj.line.shipment_id else "—"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("line", "line__shipment")


class DisputeMessageInline(_ReadOnlyInline, admin.StackedInline):
    model = DisputeMessage
    fields = ("author", "internal", "created_at", "body")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author")


class DisputeAttachmentInline(_ReadOnlyInline, admin.TabularInline):
    model = DisputeAttachment
    fields = ("download", "content_type", "size", "uploaded_by", "created_at")
    readonly_fields = fields

    @admin.display(description=_("file"))
    def download(self, obj):
        url = reverse("disputes:attachment", args=[obj.dispute.reference, obj.pk])
        return format_html('<a href="{}">{}</a>', url, obj.name)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("dispute", "uploaded_by")


class DisputeEventInline(_ReadOnlyInline, admin.TabularInline):
    model = DisputeEvent
    fields = ("created_at", "from_status", "to_status", "actor")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


# --- The queue ----------------------------------------------------------------------------------


class DisputeAdmin(admin.ModelAdmin):
    list_display = (
        "reference",
        "invoice",
        "company",
        "status",
        "disputed_display",
        "credit_display",
        "age_days",
        "assignee",
        "created_at",
    )
    list_filter = (OpenFilter, "status", ReasonFilter, AgeFilter, AmountFilter, AssigneeFilter, "company")
    list_select_related = ("invoice", "company", "filed_by", "assignee")
    search_fields = (
        "reference",
        "invoice__number",
        "invoice__account__number",
        "invoice__plan__number",
        "items__line__shipment__tracking_number",
        "company__name",
        "filed_by__username",
    )
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    fields = (
        "reference",
        "status",
        "company",
        "invoice_link",
        "filed_by",
        "created_at",
        "language",
        "comment",
        "disputed_display",
        "credit_display",
        "credit_line",
        "decision_reason",
        "decided_by",
        "decided_at",
        "assignee",
    )
    readonly_fields = fields
    inlines = (DisputeItemInline, DisputeAttachmentInline, DisputeEventInline, DisputeMessageInline)
    actions = ("assign_to_me", "assign_to", "start_review", "close_disputes")
    change_form_template = "disputes/admin/dispute_change_form.html"

    credit_display = money_column("credit_granted", "invoice.currency", label=_("credit granted"))
    disputed_display = money_column("disputed_amount", "invoice.currency", label=_("disputed amount"))

    @admin.display(description=_("age (days)"), ordering="created_at")
    def age_days(self, obj):
        return (timezone.localdate() - timezone.localtime(obj.created_at).date()).days

    @admin.display(description=_("invoice"))
    def invoice_link(self, obj):
        url = reverse("admin:invoices_invoice_change", args=[obj.invoice_id])
        return format_html(
            '<a href="{}">{}</a> ({})', url, obj.invoice.number, format_money(obj.invoice.balance, obj.invoice.currency)
        )

    # Disputes are filed by customers and never deleted (money depends on them).
    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        info = (self.model._meta.app_label, self.model._meta.model_name)
        return [
            path("<int:pk>/decide/", self.admin_site.admin_view(self.decide_view), name=f"{info[0]}_{info[1]}_decide"),
            path("<int:pk>/reply/", self.admin_site.admin_view(self.reply_view), name=f"{info[0]}_{info[1]}_reply"),
            path("<int:pk>/take/", self.admin_site.admin_view(self.take_view), name=f"{info[0]}_{info[1]}_take"),
        ] + super().get_urls()

    def _get_for_change(self, request, pk) -> Dispute:
        dispute = Dispute.objects.select_related("invoice", "company", "filed_by", "assignee").filter(pk=pk).first()
        if dispute is None:
            raise Http404
        if not self.has_change_permission(request, dispute):
            raise PermissionDenied
        return dispute

    def _change_url(self, dispute) -> str:
        return reverse("admin:disputes_dispute_change", args=[dispute.pk])

    def _context(self, request, dispute, **extra):
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": dispute,
            "dispute": dispute,
            "has_view_permission": True,
            "change_url": self._change_url(dispute),
            **extra,
        }

    def decide_view(self, request, pk):
        dispute = self._get_for_change(request, pk)
        if request.method == "POST":
            form = DecisionForm(request.POST, currency=dispute.invoice.currency)
            if form.is_valid():
                try:
                    dispute_decide(
                        dispute=dispute,
                        decision=form.cleaned_data["decision"],
                        amount=form.cleaned_data.get("amount"),
                        reason=form.cleaned_data.get("reason", ""),
                        reply=form.cleaned_data.get("reply", ""),
                        actor=request.user,
                    )
                except ApplicationError as error:
                    form_add_application_error(form, error)
                else:
                    dispute.refresh_from_db()
                    self.message_user(
                        request,
                        _("%(reference)s: %(status)s, credit %(credit)s.")
                        % {
                            "reference": dispute.reference,
                            "status": dispute.get_status_display(),
                            "credit": format_money(dispute.credit_granted, dispute.invoice.currency),
                        },
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(self._change_url(dispute))
        else:
            form = DecisionForm(currency=dispute.invoice.currency)
        currency = dispute.invoice.currency
        threshold = dispute_supervisor_threshold(currency)
        context = self._context(
            request,
            dispute,
            title=_("Decide dispute %(reference)s") % {"reference": dispute.reference},
            form=form,
            threshold=format_money(threshold, currency) if threshold is not None else None,
            needs_supervisor=dispute_needs_supervisor(currency=currency, credit=dispute.disputed_amount),
            is_supervisor=request.user.has_perm("disputes.decide_large_dispute"),
            items=list(dispute.items.select_related("line", "line__shipment")),
            decidable=dispute.status in OPEN_DISPUTE_STATUSES,
        )
        return TemplateResponse(
            request, "disputes/admin/dispute_decide.html", context, status=400 if form.errors else 200
        )

    def reply_view(self, request, pk):
        dispute = self._get_for_change(request, pk)
        if request.method == "POST":
            form = ReplyForm(request.POST)
            if form.is_valid():
                try:
                    dispute_message_post(
                        dispute=dispute,
                        author=request.user,
                        body=form.cleaned_data["body"],
                        internal=form.cleaned_data["internal"],
                        staff=True,
                    )
                except ApplicationError as error:
                    form_add_application_error(form, error)
                else:
                    self.message_user(
                        request,
                        _("Internal note saved.")
                        if form.cleaned_data["internal"]
                        else _("Reply sent to the customer."),
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(self._change_url(dispute))
        else:
            form = ReplyForm()
        context = self._context(
            request, dispute, title=_("Reply on dispute %(reference)s") % {"reference": dispute.reference}, form=form
        )
        return TemplateResponse(
            request, "disputes/admin/dispute_reply.html", context, status=400 if form.errors else 200
        )

    def take_view(self, request, pk):
        """POST: assign the dispute to the staff member viewing it (the change page's button)."""
        dispute = self._get_for_change(request, pk)
        if request.method != "POST":
            return HttpResponseRedirect(self._change_url(dispute))
        dispute_assign(dispute=dispute, assignee=request.user, actor=request.user)
        self.message_user(request, _("The dispute is assigned to you."), messages.SUCCESS)
        return HttpResponseRedirect(self._change_url(dispute))

    # --- Actions ---

    @admin.action(description=_("Assign to me"), permissions=["change"])
    def assign_to_me(self, request, queryset):
        for dispute in queryset:
            dispute_assign(dispute=dispute, assignee=request.user, actor=request.user)
        self.message_user(request, _("%(count)d disputes assigned to you.") % {"count": queryset.count()})

    @admin.action(description=_("Assign to a staff member…"), permissions=["change"])
    def assign_to(self, request, queryset):
        if "apply" in request.POST:
            form = AssignForm(request.POST)
            if form.is_valid():
                assignee = form.cleaned_data["assignee"]
                for dispute in queryset:
                    dispute_assign(dispute=dispute, assignee=assignee, actor=request.user)
                self.message_user(
                    request,
                    _("%(count)d disputes assigned to %(user)s.") % {"count": queryset.count(), "user": assignee},
                )
                return None
        else:
            form = AssignForm()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Assign disputes"),
            "form": form,
            "queryset": queryset,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "disputes/admin/dispute_assign.html", context)

    @admin.action(description=_("Start review"), permissions=["change"])
    def start_review(self, request, queryset):
        done = 0
        for dispute in queryset.filter(status=DisputeStatus.SUBMITTED):
            dispute_transition(dispute=dispute, to_status=DisputeStatus.UNDER_REVIEW, actor=request.user)
            done += 1
        self.message_user(request, _("%(count)d disputes put under review.") % {"count": done})

    @admin.action(description=_("Close"), permissions=["change"])
    def close_disputes(self, request, queryset):
        done = 0
        for dispute in queryset.exclude(status=DisputeStatus.CLOSED):
            try:
                dispute_close(dispute=dispute, actor=request.user)
            except ApplicationError as error:
                self.message_user(request, f"{dispute.reference}: {error.message}", messages.WARNING)
            else:
                done += 1
        self.message_user(request, _("%(count)d disputes closed.") % {"count": done})
