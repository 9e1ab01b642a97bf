"""Django admin actions for payments (hooked into payments/admin.py).

``WebhookEventAdmin.actions = [replay_webhook_events]`` lets billing staff process a stored
gateway event again; settlement is idempotent, so a replay never charges or applies twice.
"""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .webhooks import webhook_replay


@admin.action(description=_("Replay selected webhook events"), permissions=["view"])
def replay_webhook_events(modeladmin, request, queryset):
    # The admin page is read-only for everyone; replaying needs the model's change permission.
    if not request.user.has_perm("payments.change_webhookevent"):
        modeladmin.message_user(request, _("You may not replay webhook events."), messages.ERROR)
        return
    failed = 0
    count = 0
    for event in queryset.order_by("received_at", "id"):
        event = webhook_replay(event=event, actor=request.user)
        count += 1
        if event.error:
            failed += 1
    modeladmin.message_user(
        request,
        ngettext("%(count)d event replayed.", "%(count)d events replayed.", count) % {"count": count},
        messages.SUCCESS,
    )
    if failed:
        modeladmin.message_user(
            request,
            ngettext("%(count)d event still has an error.", "%(count)d events still have an error.", failed)
            % {"count": failed},
            messages.WARNING,
        )
