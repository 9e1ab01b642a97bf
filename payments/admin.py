"""Django admin for billing staff: wallets, payments, AutoPay schedules and gateway webhooks.

Money moves only through the payment services (idempotency keys, row locks, audit events), so
payments, their allocations and received webhooks are shown read-only here.
"""

import json

from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core.admin_utils import ReadOnlyAdminMixin, money_column
from core.money import format_money, from_minor

from .admin_actions import replay_webhook_events
from .models import (
    AutoPayAttempt,
    AutoPaySchedule,
    CardExpiryReminder,
    CreditApplication,
    GatewayCustomer,
    Payment,
    PaymentAllocation,
    PaymentAttemptClaim,
    PaymentMethod,
    ShippingAccountPaymentOption,
    SimulatedCharge,
    WebhookAnomaly,
    WebhookEvent,
)
from .webhooks import webhook_anomaly_resolve


@admin.register(PaymentMethod)
class PaymentMethodAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "company",
        "kind",
        "brand",
        "last4",
        "expiry",
        "is_default",
        "gateway",
    )
    list_filter = ("kind", "gateway", "is_default")
    list_select_related = ("company",)
    search_fields = ("company__name", "nickname", "holder_name", "last4")
    autocomplete_fields = ("company", "created_by")
    # The gateway's token is what charges the card: never retyped by hand.
    readonly_fields = ("gateway", "gateway_token", "created_at")

    @admin.display(description=_("expiry"))
    def expiry(self, obj):
        if obj.exp_month and obj.exp_year:
            return f"{obj.exp_month:02d}/{obj.exp_year}"
        return "-"


class PaymentAllocationInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = PaymentAllocation
    extra = 0
    fields = ("invoice", "amount")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("invoice")


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "reference",
        "company",
        "amount_display",
        "status",
        "method_kind",
        "method_label",
        "gateway",
        "created_at",
        "settled_at",
        "receipt_sent_at",
    )
    list_filter = ("status", "gateway", "currency", "method_kind", "created_at")
    list_select_related = ("company",)
    search_fields = (
        "reference",
        "gateway_reference",
        "company__name",
        "payer_email",
        "allocations__invoice__number",
    )
    date_hierarchy = "created_at"
    inlines = (PaymentAllocationInline,)

    amount_display = money_column("amount", "currency", label=_("amount"))


@admin.register(PaymentAllocation)
class PaymentAllocationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("payment", "invoice", "amount_display")
    list_select_related = ("payment", "invoice")
    search_fields = ("payment__reference", "invoice__number")

    amount_display = money_column("amount", "payment.currency", label=_("amount"))


@admin.register(AutoPaySchedule)
class AutoPayScheduleAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "company",
        "method",
        "amount_mode",
        "limit_display",
        "timing",
        "status",
        "start_date",
        "until_date",
    )
    list_filter = ("status", "amount_mode", "timing")
    list_select_related = ("company", "account", "plan", "method")
    search_fields = ("company__name", "account__number", "plan__number")
    autocomplete_fields = ("company", "account", "plan", "method", "created_by")
    # The customer's consent is a record of what a person agreed to, not staff data.
    readonly_fields = ("consent_at", "terms_version", "created_at")

    @admin.display(description=_("limit"), ordering="limit_amount")
    def limit_display(self, obj):
        billable = obj.account or obj.plan
        if obj.limit_amount is None or billable is None:
            return "-"
        return format_money(obj.limit_amount, billable.currency)


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("event_id", "type", "received_at", "processed_at", "has_error")
    list_filter = ("type",)
    search_fields = ("event_id", "type")
    date_hierarchy = "received_at"
    actions = [replay_webhook_events]

    @admin.display(description=_("error"), boolean=True)
    def has_error(self, obj):
        return bool(obj.error)


@admin.register(WebhookAnomaly)
class WebhookAnomalyAdmin(admin.ModelAdmin):
    """Signed gateway events that were not applied (payments/webhooks.py): read-only, except the
    "resolved" flag staff set once the gateway and our books agree again (a refund, a settlement)."""

    list_display = ("created_at", "reason", "event", "payment", "alerted_at", "resolved", "resolved_by")
    list_filter = ("reason", "resolved", "created_at")
    list_select_related = ("event", "payment", "resolved_by")
    search_fields = ("event__event_id", "payment__reference", "payment__gateway_reference")
    date_hierarchy = "created_at"
    fields = (
        "reason",
        "event",
        "payment",
        "detail",
        "raw_event",
        "created_at",
        "alerted_at",
        "resolved",
        "resolved_by",
        "resolved_at",
    )
    readonly_fields = (
        "reason",
        "event",
        "payment",
        "detail",
        "raw_event",
        "created_at",
        "alerted_at",
        "resolved_by",
        "resolved_at",
    )
    actions = ["mark_resolved"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("raw event"))
    def raw_event(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.event.payload, indent=2, ensure_ascii=False, sort_keys=True))

    def save_model(self, request, obj, form, change):
        # Only "resolved" is editable; the service records who and when, with an audit event.
        if "resolved" in form.changed_data:
            webhook_anomaly_resolve(anomaly=obj, actor=request.user, resolved=form.cleaned_data["resolved"])

    @admin.action(description=_("Mark selected anomalies resolved"), permissions=["change"])
    def mark_resolved(self, request, queryset):
        for anomaly in queryset.filter(resolved=False).order_by("id"):
            webhook_anomaly_resolve(anomaly=anomaly, actor=request.user)


@admin.register(GatewayCustomer)
class GatewayCustomerAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The gateway's own customer record of a company's wallet: shown, never edited."""

    list_display = ("company", "gateway", "customer_id", "created_at")
    list_filter = ("gateway",)
    list_select_related = ("company",)
    search_fields = ("company__name", "customer_id")


@admin.register(ShippingAccountPaymentOption)
class ShippingAccountPaymentOptionAdmin(admin.ModelAdmin):
    list_display = ("account", "method", "updated_by", "updated_at")
    list_select_related = ("account", "method", "updated_by")
    search_fields = ("account__number", "account__company__name")
    autocomplete_fields = ("account", "method")
    readonly_fields = ("updated_by", "updated_at")


@admin.register(PaymentAttemptClaim)
class PaymentAttemptClaimAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Confirmed pay forms being worked on right now (a row lives as long as its request)."""

    list_display = ("idempotency_key", "user", "created_at")
    list_select_related = ("user",)
    search_fields = ("idempotency_key", "user__username")


@admin.register(SimulatedCharge)
class SimulatedChargeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """What the simulated gateway recorded: the stand-in for a real gateway's dashboard."""

    list_display = ("reference", "amount_display", "outcome", "decline_code", "created_at")
    list_filter = ("outcome", "currency")
    search_fields = ("reference", "idempotency_key")
    date_hierarchy = "created_at"

    @admin.display(description=_("amount"), ordering="amount_minor")
    def amount_display(self, obj):
        try:
            return format_money(from_minor(obj.amount_minor, obj.currency), obj.currency)
        except ValueError:
            return f"{obj.amount_minor} {obj.currency}"


@admin.register(CreditApplication)
class CreditApplicationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """A credit moved from one invoice to another by the payment services: the record, read-only."""

    list_display = ("source_invoice", "target_invoice", "amount_display", "payment", "created_by", "created_at")
    list_filter = ("currency",)
    list_select_related = ("source_invoice", "target_invoice", "payment", "created_by")
    search_fields = ("source_invoice__number", "target_invoice__number", "payment__reference")
    date_hierarchy = "created_at"

    amount_display = money_column("amount", "currency", label=_("amount"))


@admin.register(AutoPayAttempt)
class AutoPayAttemptAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """What each AutoPay run did with each invoice: written by the AutoPay job only."""

    list_display = ("run_on", "schedule", "invoice", "attempt_no", "outcome", "amount", "payment", "decline_code")
    list_filter = ("outcome", "run_on")
    list_select_related = ("schedule__account", "schedule__plan", "invoice", "payment")
    search_fields = ("invoice__number", "schedule__account__number", "schedule__plan__number", "idempotency_key")
    date_hierarchy = "run_on"


@admin.register(CardExpiryReminder)
class CardExpiryReminderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("method", "exp_month", "exp_year", "sent_at")
    list_select_related = ("method",)
    search_fields = ("method__company__name", "method__last4")
    date_hierarchy = "sent_at"
