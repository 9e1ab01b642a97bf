"""AutoPay's rules: its terms, its dates, and what a run does with an invoice.

Pure functions and values, no queries of their own (``classify`` asks ``invoice_checks`` only when
the caller did not): the selectors (previews), the services (set-up) and the run share them, so
the preview a person sees and what the run does cannot drift apart.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import ShippingAccount
from core.exceptions import ApplicationError
from core.money import quantize
from invoices.models import Invoice

from ..gateways.base import DeclineKind
from ..gateways.simulated import DECLINES
from ..gateways.stripe_backend import SOFT_DECLINES
from ..models import AutoPayAttempt, AutoPaySchedule, Payment, PaymentMethod, PaymentStatus
from ..services.checks import invoice_checks, kind_allowed

# The AutoPay terms a person agrees to with the consent check box; recorded on the schedule.
TERMS_VERSION = "2026-11"
# A soft decline (insufficient funds, processing error) is tried again on this many later runs.
MAX_RETRIES = 3
# Card expiry reminders go out this many days before the card's last valid day.
EXPIRY_REMINDER_DAYS = 30

Outcome = AutoPayAttempt.Outcome
SKIPS = (Outcome.SKIPPED_OVER_LIMIT, Outcome.SKIPPED_DISPUTED, Outcome.SKIPPED_METHOD, Outcome.SKIPPED_NOT_PAYABLE)
LIVE = ~Q(status=AutoPaySchedule.Status.CANCELLED)

WEEKDAYS = [
    (0, gettext_lazy("Monday")),
    (1, gettext_lazy("Tuesday")),
    (2, gettext_lazy("Wednesday")),
    (3, gettext_lazy("Thursday")),
    (4, gettext_lazy("Friday")),
    (5, gettext_lazy("Saturday")),
    (6, gettext_lazy("Sunday")),
]

PLAN_TEXT = {
    "pay": gettext_lazy("Will be paid"),
    Outcome.SKIPPED_OVER_LIMIT: gettext_lazy("Not paid: above the limit"),
    Outcome.SKIPPED_DISPUTED: gettext_lazy("Not paid: disputed"),
    Outcome.SKIPPED_METHOD: gettext_lazy("Not paid: the payment method is missing or expired"),
    Outcome.SKIPPED_NOT_PAYABLE: gettext_lazy("Not paid: cannot be paid online"),
    "in_progress": gettext_lazy("A payment is in progress"),
    "gave_up": gettext_lazy("Not paid: declined too many times"),
}


# --- The terms a person agrees to -------------------------------------------------------------


@dataclass(frozen=True)
class AutoPayTerms:
    """What a schedule pays, with what and when: the one value set-up, change and checks pass around.

    ``limit_amount`` counts only with ``amount_mode`` "up to a limit", ``days_before_due`` only
    with the "days before due" timing and ``weekday`` only with the "weekday" timing
    (``stored()`` drops the others); ``until_date`` ends the schedule (None: until cancelled).
    """

    method: PaymentMethod | None
    amount_mode: str
    timing: str
    limit_amount: Decimal | None = None
    days_before_due: int | None = None
    weekday: int | None = None
    until_date: datetime.date | None = None

    FIELDS = ("method", "amount_mode", "limit_amount", "timing", "days_before_due", "weekday", "until_date")

    @classmethod
    def of(cls, values: dict) -> AutoPayTerms:
        """From a form's cleaned data (or keyword arguments): the terms' fields, others ignored."""
        return cls(**{name: values.get(name) for name in cls.FIELDS})

    def stored(self) -> dict:
        """The schedule's fields for these terms."""
        return {
            "method": self.method,
            "amount_mode": self.amount_mode,
            "limit_amount": self.limit_amount if self.amount_mode == AutoPaySchedule.AmountMode.UP_TO_LIMIT else None,
            "timing": self.timing,
            "days_before_due": self.days_before_due if self.timing == AutoPaySchedule.Timing.DAYS_BEFORE_DUE else None,
            "weekday": self.weekday if self.timing == AutoPaySchedule.Timing.WEEKDAY else None,
            "until_date": self.until_date,
        }

    def check(self, *, company_id: int, billable, today: datetime.date) -> None:
        """``ApplicationError`` (on the form's field) when these terms cannot pay this billable."""
        if isinstance(billable, ShippingAccount) and billable.is_temporary:
            raise ApplicationError(
                _("A temporary 10-digit account number cannot be paid online. Call the billing contact on the invoice.")
            )
        method = self.method
        if method is None or method.company_id != company_id:
            raise ApplicationError(_("Choose a payment method of this company's wallet."), field="method")
        if not method_usable(method, today):
            raise ApplicationError(
                _("This card has expired. Update its expiry date or choose another method."), field="method"
            )
        if not kind_allowed(method.kind, billable.country):
            raise ApplicationError(_("This payment type is not accepted for this account's country."), field="method")
        if self.amount_mode == AutoPaySchedule.AmountMode.UP_TO_LIMIT and (
            self.limit_amount is None or self.limit_amount <= 0
        ):
            raise ApplicationError(
                _("Enter the limit: the largest amount AutoPay may pay for one invoice."), field="limit_amount"
            )
        if self.limit_amount is not None and self.limit_amount != quantize(self.limit_amount, billable.currency):
            raise ApplicationError(
                _("%(currency)s amounts have no smaller units than this: round the limit.")
                % {"currency": billable.currency},
                field="limit_amount",
            )
        if self.timing == AutoPaySchedule.Timing.DAYS_BEFORE_DUE and self.days_before_due is None:
            raise ApplicationError(
                _("Enter how many days before the due date to pay (0 = on the due date)."), field="days_before_due"
            )
        if self.timing == AutoPaySchedule.Timing.WEEKDAY and self.weekday is None:
            raise ApplicationError(_("Choose the weekday."), field="weekday")
        if self.until_date is not None and self.until_date < today:
            raise ApplicationError(_("The end date is in the past."), field="until_date")


# --- Dates -------------------------------------------------------------------------------------


def card_last_day(method: PaymentMethod) -> datetime.date | None:
    """A card is valid to the last day of its expiry month; None for methods without an expiry."""
    if not (method.exp_month and method.exp_year):
        return None
    first_next = datetime.date(method.exp_year + method.exp_month // 12, method.exp_month % 12 + 1, 1)
    return first_next - datetime.timedelta(days=1)


def method_usable(method: PaymentMethod | None, on: datetime.date) -> bool:
    if method is None:
        return False
    last_day = card_last_day(method)
    return last_day is None or on <= last_day


def schedule_live_on(schedule: AutoPaySchedule, day: datetime.date) -> bool:
    """Active, started, and not past its until-date."""
    return (
        schedule.status == AutoPaySchedule.Status.ACTIVE
        and schedule.start_date <= day
        and (schedule.until_date is None or day <= schedule.until_date)
    )


def schedule_ended(schedule: AutoPaySchedule, today: datetime.date) -> bool:
    return schedule.until_date is not None and today > schedule.until_date


def invoice_pay_day(schedule: AutoPaySchedule, invoice: Invoice) -> datetime.date:
    """The day the schedule pays the invoice: ``days_before_due`` days before its due date, or the
    schedule's weekday on or after the invoice was issued."""
    if schedule.timing == AutoPaySchedule.Timing.WEEKDAY:
        return invoice.invoice_date + datetime.timedelta(days=(schedule.weekday - invoice.invoice_date.weekday()) % 7)
    return invoice.due_date - datetime.timedelta(days=schedule.days_before_due or 0)


def invoice_due_for_run(schedule: AutoPaySchedule, invoice: Invoice, day: datetime.date) -> bool:
    """Does a run on ``day`` pay this invoice? From its pay day on: a run that did not happen on
    that day (beat down, a worker lost) is caught up by the next one, whatever the timing."""
    return day >= invoice_pay_day(schedule, invoice)


def invoice_run_date(schedule: AutoPaySchedule, invoice: Invoice, today: datetime.date) -> datetime.date:
    """The first run day, from ``today`` on, on which the schedule pays the invoice."""
    return max(today, invoice_pay_day(schedule, invoice))


def next_weekday(weekday: int, today: datetime.date) -> datetime.date:
    return today + datetime.timedelta(days=(weekday - today.weekday()) % 7)


def classify(schedule: AutoPaySchedule, invoice: Invoice, remaining: Decimal, on: datetime.date, check=None) -> str:
    """What a run on ``on`` does with the invoice: "pay" or the reason it is skipped.

    ``check`` is the invoice's ``InvoiceCheck`` (temporary number, country, method type) when the
    caller has computed it for many invoices at once.
    """
    if getattr(invoice, "disputed", False):
        return Outcome.SKIPPED_DISPUTED
    if not method_usable(schedule.method, on):
        return Outcome.SKIPPED_METHOD
    if (
        schedule.amount_mode == AutoPaySchedule.AmountMode.UP_TO_LIMIT
        and schedule.limit_amount is not None
        and remaining > schedule.limit_amount
    ):
        return Outcome.SKIPPED_OVER_LIMIT
    if check is None:
        check = invoice_checks([invoice], method_kind=schedule.method.kind)[0]
    if check.reason and check.reason != "in_progress":
        return Outcome.SKIPPED_NOT_PAYABLE
    return "pay"


def attempts_gave_up(prior: list[AutoPayAttempt]) -> bool:
    """Declined softly more than ``MAX_RETRIES`` times (a charge never sent is not a try)."""
    return sum(a.outcome == Outcome.FAILED_SOFT and a.decline_code != "not_sent" for a in prior) > MAX_RETRIES


def attempts_in_progress(prior: list[AutoPayAttempt], today: datetime.date) -> bool:
    """Paid, or a payment may be under way. A claim of an earlier day that never got a payment
    (the run stopped or crashed before reaching it) is not: that invoice is tried again."""
    return any(
        a.outcome in (Outcome.PAID, Outcome.PROCESSING)
        or (a.outcome == Outcome.PENDING and (a.payment_id is not None or a.run_on >= today))
        for a in prior
    )


# --- What a run does ---------------------------------------------------------------------------


def attempt_key(schedule_id: int, invoice_id: int, attempt_no: int) -> str:
    return f"autopay:{schedule_id}:{invoice_id}:{attempt_no}"


def decline_is_soft(code: str) -> bool:
    return code == "not_sent" or code in SOFT_DECLINES or DECLINES.get(code) == DeclineKind.SOFT


def attempt_outcome_of(payment: Payment | None) -> dict:
    """An attempt's outcome from its payment's status (none: credits covered the whole invoice)."""
    if payment is None or payment.status == PaymentStatus.SUCCEEDED:
        return {"outcome": Outcome.PAID, "decline_code": "", "message": ""}
    if payment.status == PaymentStatus.FAILED:
        soft = decline_is_soft(payment.failure_code)
        return {
            "outcome": Outcome.FAILED_SOFT if soft else Outcome.FAILED_HARD,
            "decline_code": payment.failure_code,
            "message": payment.failure_message,
        }
    return {"outcome": Outcome.PROCESSING, "decline_code": "", "message": ""}  # unknown: reconciliation settles it
