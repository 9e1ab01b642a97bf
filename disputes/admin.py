"""Django admin for billing staff: disputes with their disputed charges and messages."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from core.admin_utils import ReadOnlyAdminMixin, money_column

from .admin_queue import DisputeAdmin
from .models import Dispute, DisputeAttachment, DisputeEvent, DisputeItem, DisputeMessage

# The staff's dispute queue (filters, search, assignment, decision and reply views) lives in
# admin_queue.py, owned with the disputes workflow; every change goes through disputes.services.
admin.site.register(Dispute, DisputeAdmin)


@admin.register(DisputeItem)
class DisputeItemAdmin(admin.ModelAdmin):
    list_display = ("dispute", "reason", "amount_display", "line")
    list_filter = ("reason",)
    list_select_related = ("dispute__invoice", "line")
    search_fields = (
        "dispute__reference",
        "dispute__invoice__number",
        "line__shipment__tracking_number",
    )
    autocomplete_fields = ("dispute",)
    raw_id_fields = ("line",)

    amount_display = money_column("amount", "dispute.invoice.currency", label=_("disputed amount"))


@admin.register(DisputeMessage)
class DisputeMessageAdmin(admin.ModelAdmin):
    list_display = ("dispute", "author", "internal", "created_at")
    list_filter = ("internal", "created_at")
    list_select_related = ("dispute", "author")
    search_fields = ("dispute__reference", "body", "author__username")
    autocomplete_fields = ("dispute", "author")
    date_hierarchy = "created_at"


@admin.register(DisputeEvent)
class DisputeEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("dispute", "from_status", "to_status", "actor", "created_at")
    list_filter = ("to_status",)
    list_select_related = ("dispute", "actor")
    search_fields = ("dispute__reference", "actor__username")
    date_hierarchy = "created_at"


@admin.register(DisputeAttachment)
class DisputeAttachmentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Evidence files are served only through the scoped dispute views; listed here, not edited."""

    list_display = ("dispute", "name", "content_type", "size", "uploaded_by", "created_at")
    list_filter = ("content_type",)
    list_select_related = ("dispute", "uploaded_by")
    search_fields = ("dispute__reference", "name")
    date_hierarchy = "created_at"
