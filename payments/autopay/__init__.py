"""AutoPay (R6): schedules, what their next run will do, the daily run and the e-mails it sends.

- ``rules``: the terms (``AutoPayTerms``), the dates and what a run does with an invoice;
- ``selectors``: schedules and previews, scoped to what the user may see;
- ``services``: set-up, change, pause, resume, cancel (every write to a schedule);
- ``run``: the daily batch engine (claims, chunks, take-over of a dead run's work);
- ``notices``: the attempt notices and card expiry reminders.

Code inside the app imports from these modules; this package re-exports the public names that
commands, the seed data, the bench and tests use.
"""

from .notices import autopay_notice_deliver, autopay_notice_send, autopay_notices_requeue, card_expiry_reminders_send
from .rules import (
    EXPIRY_REMINDER_DAYS,
    LIVE,
    MAX_RETRIES,
    TERMS_VERSION,
    WEEKDAYS,
    AutoPayTerms,
    attempt_key,
    card_last_day,
    classify,
    decline_is_soft,
    method_usable,
)
from .run import CHUNK, autopay_attempts_sync, autopay_resume_abandoned, autopay_run, autopay_schedule_run
from .selectors import (
    Preview,
    PreviewItem,
    autopay_get_visible,
    autopay_list_visible,
    autopay_preview,
    autopay_previews,
    autopay_recipients,
    billables_for_autopay,
    schedule_invoices,
)
from .services import autopay_cancel, autopay_create, autopay_pause, autopay_resume, autopay_update

__all__ = [
    "CHUNK",
    "EXPIRY_REMINDER_DAYS",
    "LIVE",
    "MAX_RETRIES",
    "TERMS_VERSION",
    "WEEKDAYS",
    "AutoPayTerms",
    "Preview",
    "PreviewItem",
    "attempt_key",
    "autopay_attempts_sync",
    "autopay_cancel",
    "autopay_create",
    "autopay_get_visible",
    "autopay_list_visible",
    "autopay_notice_deliver",
    "autopay_notice_send",
    "autopay_notices_requeue",
    "autopay_pause",
    "autopay_preview",
    "autopay_previews",
    "autopay_recipients",
    "autopay_resume",
    "autopay_resume_abandoned",
    "autopay_run",
    "autopay_schedule_run",
    "autopay_update",
    "billables_for_autopay",
    "card_expiry_reminders_send",
    "card_last_day",
    "classify",
    "decline_is_soft",
    "method_usable",
    "schedule_invoices",
]
