"""AutoPay (R6): schedules, what their next run will do, the daily run and card expiry reminders.

Reads (``autopay_*_list``, ``autopay_preview``) are scoped to what the user may see; writes
(``autopay_create``/``update``/``pause``/``resume``/``cancel``) are transactional and audited.

The daily run never pays an invoice twice, even when two runs overlap (two workers, a run and a
retry). Each schedule is paid as one batch (``autopay_schedule_run``): holding the schedule's row
lock, the run *claims* an ``AutoPayAttempt`` row per due invoice, which the database allows once per
(schedule, invoice, attempt number) and once per (schedule, invoice, run day), and writes each
claimed invoice's payment as *processing* through ``payments_open`` with the attempt's idempotency
key (``autopay:<schedule>:<invoice>:<attempt>``), which locks the invoice rows and re-checks the
balance against payments in flight; then it commits. A run that comes second waits for the lock,
finds the day's attempts and leaves those invoices alone. Only then is the gateway asked to charge,
one payment after the other, and the answers are settled together (``payments_settle``). A soft
decline is final for its key and is tried again on a later run with the next attempt number (at
most ``MAX_RETRIES`` times); a hard decline pauses the schedule and stops that day's charges (the
payments left are failed as ``not_sent``, never sent, and tried again once AutoPay is resumed); an
unknown outcome stays *processing* until ``payment_reconcile`` settles it and is never tried again
meanwhile.
"""

from __future__ import annotations

import datetime
import logging
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Count, Prefetch, Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.access import Action, role_allows
from accounts.models import AuditEvent, BillingPlan, Company, Membership, Role, ShippingAccount
from accounts.selectors import account_list_visible, plan_list_visible
from accounts.services import audit_event_build, audit_record
from core.exceptions import ApplicationError
from core.money import format_money, quantize
from core.queue import enqueue, enqueue_on_commit
from invoices.models import OPEN_DISPUTE_STATUSES, Invoice, InvoiceStatus

from .gateways import ChargeResult
from .gateways import Outcome as GatewayOutcome
from .models import (
    CARD_KINDS,
    AutoPayAttempt,
    AutoPaySchedule,
    CardExpiryReminder,
    Payment,
    PaymentMethod,
    PaymentStatus,
)
from .services import (
    NOT_SENT,
    PaymentRequest,
    PaymentSource,
    invoice_checks,
    kind_allowed,
    payment_charge,
    payment_reconcile,
    payment_scheduled_run,
    payments_open,
    payments_settle,
    reserved_amounts,
    rows_update,
)

logger = logging.getLogger(__name__)

# The AutoPay terms a person agrees to with the consent check box; recorded on the schedule.
TERMS_VERSION = "2026-11"
# A soft decline (insufficient funds, processing error) is tried again on this many later runs.
MAX_RETRIES = 3
# A run opens, charges and records payments this many at a time, and looks at its schedule's
# status before each chunk: a pause made meanwhile (by a person, or a deleted payment method)
# stops the charges left. Payments wait processing-but-unsent for one chunk's charges at most.
CHUNK = 25
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


# --- Reads -------------------------------------------------------------------------------------


def _billable_filter(schedule: AutoPaySchedule) -> Q:
    return Q(account_id=schedule.account_id) if schedule.account_id else Q(plan_id=schedule.plan_id)


def schedule_invoices(schedule: AutoPaySchedule) -> QuerySet[Invoice]:
    """Open invoices the schedule pays: issued on or after its start, with open disputes counted."""
    return (
        Invoice.objects.filter(_billable_filter(schedule), status=InvoiceStatus.OPEN)
        .filter(invoice_date__gte=schedule.start_date)
        .select_related("account", "plan")
        .annotate(open_disputes=Count("disputes", filter=Q(disputes__status__in=OPEN_DISPUTE_STATUSES)))
        .order_by("due_date", "number")
    )


def billables_for_autopay(*, user) -> list[ShippingAccount | BillingPlan]:
    """Accounts and plans where the user's role allows AutoPay (Administrator, assigned Manager)."""
    roles = {m.company_id: m.role for m in Membership.objects.filter(user=user)} if user.is_authenticated else {}
    allowed = [cid for cid, role in roles.items() if role_allows(role, Action.AUTOPAY)]
    if not allowed:
        return []
    accounts = account_list_visible(user=user).filter(company_id__in=allowed).select_related("company")
    plans = plan_list_visible(user=user).filter(company_id__in=allowed).select_related("company")
    return [*plans.order_by("number"), *(a for a in accounts.order_by("number") if not a.is_temporary)]


def autopay_list_visible(*, user) -> QuerySet[AutoPaySchedule]:
    """Live schedules (not cancelled) of the accounts and plans the user sees.

    Payers and Viewers see them too (read-only: they are told when AutoPay pays or skips);
    views check ``Action.AUTOPAY`` before any change.
    """
    return (
        AutoPaySchedule.objects.filter(LIVE)
        .filter(
            Q(account_id__in=account_list_visible(user=user).values("id"))
            | Q(plan_id__in=plan_list_visible(user=user).values("id"))
        )
        .select_related("company", "account", "plan", "method")
        .prefetch_related(
            Prefetch(
                "attempts",
                queryset=AutoPayAttempt.objects.select_related("invoice", "payment").order_by("-run_on", "-id"),
            )
        )
        .order_by("company__name", "account__number", "plan__number", "id")
    )


def autopay_get_visible(*, user, pk: int) -> AutoPaySchedule | None:
    return autopay_list_visible(user=user).filter(pk=pk).first()


@dataclass
class PreviewItem:
    invoice: Invoice
    amount: Decimal
    action: str  # "pay", a skip outcome, "in_progress" or "gave_up"
    run_date: datetime.date | None

    @property
    def action_text(self) -> str:
        return str(PLAN_TEXT.get(self.action, ""))

    @property
    def pays(self) -> bool:
        return self.action == "pay"


@dataclass
class Preview:
    schedule: AutoPaySchedule
    next_run: datetime.date | None
    items: list[PreviewItem]
    open_before_start: list[Invoice]
    ended: bool

    @property
    def to_pay(self) -> list[PreviewItem]:
        return [item for item in self.items if item.pays]

    @property
    def skipped(self) -> list[PreviewItem]:
        return [item for item in self.items if not item.pays]


def classify(schedule: AutoPaySchedule, invoice: Invoice, remaining: Decimal, on: datetime.date, check=None) -> str:
    """What a run on ``on`` does with the invoice: "pay" or the reason it is skipped.

    ``check`` is the invoice's ``InvoiceCheck`` (temporary number, country, method type) when the
    caller has computed it for many invoices at once.
    """
    if getattr(invoice, "open_disputes", 0):
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


def _history(schedule_ids, invoice_ids) -> dict[tuple[int, int], list[AutoPayAttempt]]:
    history: dict[tuple[int, int], list[AutoPayAttempt]] = {}
    for attempt in AutoPayAttempt.objects.filter(schedule_id__in=schedule_ids, invoice_id__in=invoice_ids).order_by(
        "attempt_no"
    ):
        history.setdefault((attempt.schedule_id, attempt.invoice_id), []).append(attempt)
    return history


def _gave_up(prior: list[AutoPayAttempt]) -> bool:
    """Declined softly more than ``MAX_RETRIES`` times (a charge never sent is not a try)."""
    return sum(a.outcome == Outcome.FAILED_SOFT and a.decline_code != "not_sent" for a in prior) > MAX_RETRIES


def _in_progress(prior: list[AutoPayAttempt], today: datetime.date) -> bool:
    """Paid, or a payment may be under way. A claim of an earlier day that never got a payment
    (the run stopped or crashed before reaching it) is not: that invoice is tried again."""
    return any(
        a.outcome in (Outcome.PAID, Outcome.PROCESSING)
        or (a.outcome == Outcome.PENDING and (a.payment_id is not None or a.run_on >= today))
        for a in prior
    )


def _checks_by_invoice(invoices: list[Invoice], method_kind: str | None) -> dict[int, object]:
    return {check.invoice.id: check for check in invoice_checks(invoices, method_kind=method_kind)}


def autopay_previews(schedules: list[AutoPaySchedule], *, today: datetime.date | None = None) -> list[Preview]:
    """``autopay_preview`` of many schedules in a constant number of queries (the My AutoPay page)."""
    today = today or timezone.localdate()
    account_ids = [s.account_id for s in schedules if s.account_id]
    plan_ids = [s.plan_id for s in schedules if s.plan_id]
    if not schedules:
        return []
    invoices = list(
        Invoice.objects.filter(Q(account_id__in=account_ids) | Q(plan_id__in=plan_ids), status=InvoiceStatus.OPEN)
        .select_related("account", "plan")
        .annotate(open_disputes=Count("disputes", filter=Q(disputes__status__in=OPEN_DISPUTE_STATUSES)))
        .order_by("due_date", "number")
    )
    reserved = reserved_amounts(inv.id for inv in invoices)
    history = _history([s.id for s in schedules], [inv.id for inv in invoices])
    # One InvoiceCheck per invoice (country, temporary number); the method type is checked per schedule.
    checks = {check.invoice.id: check for check in invoice_checks(invoices)}
    previews = []
    for schedule in schedules:
        mine = [inv for inv in invoices if (inv.account_id, inv.plan_id) == (schedule.account_id, schedule.plan_id)]
        covered = [inv for inv in mine if inv.invoice_date >= schedule.start_date]
        before = [inv for inv in mine if inv.invoice_date < schedule.start_date]
        previews.append(_preview(schedule, covered, before, reserved, history, checks, today))
    return previews


def autopay_preview(schedule: AutoPaySchedule, *, today: datetime.date | None = None) -> Preview:
    """The schedule's next run and, for each open invoice it covers, what will happen and when."""
    return autopay_previews([schedule], today=today)[0]


def _preview(schedule, covered, before, reserved, history, checks, today) -> Preview:
    ended = schedule_ended(schedule, today)
    items = []
    for invoice in covered:
        remaining = invoice.balance - reserved.get(invoice.id, Decimal(0))
        prior = history.get((schedule.id, invoice.id), [])
        run_date = invoice_run_date(schedule, invoice, today)
        if schedule.status != AutoPaySchedule.Status.ACTIVE or (
            schedule.until_date is not None and run_date > schedule.until_date
        ):
            run_date = None
        check = checks[invoice.id]
        if (
            schedule.method is not None
            and check.payable
            and not kind_allowed(schedule.method.kind, invoice.billable.country)
        ):
            check = type(check)(invoice=invoice, amount=check.amount, reason="method_not_allowed")
        if remaining <= 0 or _in_progress(prior, today):
            action = "in_progress"
        elif _gave_up(prior):
            action = "gave_up"
        else:
            action = classify(schedule, invoice, remaining, run_date or today, check)
        items.append(PreviewItem(invoice=invoice, amount=max(remaining, Decimal(0)), action=action, run_date=run_date))
    runnable = [item.run_date for item in items if item.run_date and item.action not in ("in_progress", "gave_up")]
    next_run = min(runnable, default=None)
    if next_run is None and schedule.timing == AutoPaySchedule.Timing.WEEKDAY and not ended:
        if schedule.status == AutoPaySchedule.Status.ACTIVE:
            candidate = next_weekday(schedule.weekday, max(today, schedule.start_date))
            if schedule.until_date is None or candidate <= schedule.until_date:
                next_run = candidate
    return Preview(schedule=schedule, next_run=next_run, items=items, open_before_start=before, ended=ended)


# --- Writes: the schedule ----------------------------------------------------------------------


def _check_shape(
    *,
    company: Company,
    billable,
    method: PaymentMethod | None,
    amount_mode,
    limit_amount,
    timing,
    days_before_due,
    weekday,
    until_date,
    today,
) -> None:
    if isinstance(billable, ShippingAccount) and billable.is_temporary:
        raise ApplicationError(
            _("A temporary 10-digit account number cannot be paid online. Call the billing contact on the invoice.")
        )
    if method is None or method.company_id != company.id:
        raise ApplicationError(_("Choose a payment method of this company's wallet."), field="method")
    if not method_usable(method, today):
        raise ApplicationError(
            _("This card has expired. Update its expiry date or choose another method."), field="method"
        )
    if not kind_allowed(method.kind, billable.country):
        raise ApplicationError(_("This payment type is not accepted for this account's country."), field="method")
    if amount_mode == AutoPaySchedule.AmountMode.UP_TO_LIMIT and (limit_amount is None or limit_amount <= 0):
        raise ApplicationError(
            _("Enter the limit: the largest amount AutoPay may pay for one invoice."), field="limit_amount"
        )
    if limit_amount is not None and limit_amount != quantize(limit_amount, billable.currency):
        raise ApplicationError(
            _("%(currency)s amounts have no smaller units than this: round the limit.")
            % {"currency": billable.currency},
            field="limit_amount",
        )
    if timing == AutoPaySchedule.Timing.DAYS_BEFORE_DUE and days_before_due is None:
        raise ApplicationError(
            _("Enter how many days before the due date to pay (0 = on the due date)."), field="days_before_due"
        )
    if timing == AutoPaySchedule.Timing.WEEKDAY and weekday is None:
        raise ApplicationError(_("Choose the weekday."), field="weekday")
    if until_date is not None and until_date < today:
        raise ApplicationError(_("The end date is in the past."), field="until_date")


def _schedule_data(schedule: AutoPaySchedule) -> dict:
    return {
        "billable": str(schedule.account or schedule.plan),
        "method": str(schedule.method) if schedule.method else None,
        "amount_mode": schedule.amount_mode,
        "limit_amount": str(schedule.limit_amount) if schedule.limit_amount is not None else None,
        "timing": schedule.timing,
        "days_before_due": schedule.days_before_due,
        "weekday": schedule.weekday,
        "until_date": schedule.until_date.isoformat() if schedule.until_date else None,
        "status": schedule.status,
    }


@transaction.atomic
def autopay_create(
    *,
    actor,
    billable: ShippingAccount | BillingPlan,
    method: PaymentMethod | None,
    amount_mode: str,
    limit_amount: Decimal | None,
    timing: str,
    days_before_due: int | None,
    weekday: int | None,
    until_date: datetime.date | None,
    consent: bool,
    ip_address: str | None = None,
) -> AutoPaySchedule:
    """Set up AutoPay for one account or plan; it pays invoices issued from today on."""
    today = timezone.localdate()
    if not consent:
        raise ApplicationError(_("Tick the box to agree to the AutoPay terms."), field="consent")
    company = billable.company
    _check_shape(
        company=company,
        billable=billable,
        method=method,
        amount_mode=amount_mode,
        limit_amount=limit_amount,
        timing=timing,
        days_before_due=days_before_due,
        weekday=weekday,
        until_date=until_date,
        today=today,
    )
    is_account = isinstance(billable, ShippingAccount)
    # Lock the billable so two set-ups at once make one schedule (the unique constraint agrees).
    type(billable).objects.select_for_update().get(pk=billable.pk)
    live = AutoPaySchedule.objects.filter(LIVE, **({"account": billable} if is_account else {"plan": billable}))
    if live.exists():
        raise ApplicationError(
            _("%(billable)s already has AutoPay: edit it instead.") % {"billable": billable}, field="billable"
        )
    schedule = AutoPaySchedule.objects.create(
        company=company,
        account=billable if is_account else None,
        plan=None if is_account else billable,
        method=method,
        amount_mode=amount_mode,
        limit_amount=limit_amount if amount_mode == AutoPaySchedule.AmountMode.UP_TO_LIMIT else None,
        timing=timing,
        days_before_due=days_before_due if timing == AutoPaySchedule.Timing.DAYS_BEFORE_DUE else None,
        weekday=weekday if timing == AutoPaySchedule.Timing.WEEKDAY else None,
        start_date=today,
        until_date=until_date,
        consent_at=timezone.now(),
        terms_version=TERMS_VERSION,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    audit_record(
        action="autopay.created",
        actor=actor,
        company=company,
        target=schedule,
        data={**_schedule_data(schedule), "terms_version": TERMS_VERSION},
        ip_address=ip_address,
    )
    return schedule


@transaction.atomic
def autopay_update(
    *,
    actor,
    schedule: AutoPaySchedule,
    method: PaymentMethod | None,
    amount_mode: str,
    limit_amount: Decimal | None,
    timing: str,
    days_before_due: int | None,
    weekday: int | None,
    until_date: datetime.date | None,
    consent: bool,
    ip_address: str | None = None,
) -> AutoPaySchedule:
    """Change a schedule; the person agrees to the terms again, and the consent is recorded anew."""
    today = timezone.localdate()
    schedule = (
        AutoPaySchedule.objects.select_for_update(of=("self",))
        .select_related("account", "plan", "method")
        .get(pk=schedule.pk)
    )
    if schedule.status == AutoPaySchedule.Status.CANCELLED:
        raise ApplicationError(_("This AutoPay was cancelled: set up a new one."))
    if not consent:
        raise ApplicationError(_("Tick the box to agree to the AutoPay terms."), field="consent")
    billable = schedule.account or schedule.plan
    _check_shape(
        company=schedule.company,
        billable=billable,
        method=method,
        amount_mode=amount_mode,
        limit_amount=limit_amount,
        timing=timing,
        days_before_due=days_before_due,
        weekday=weekday,
        until_date=until_date,
        today=today,
    )
    before = _schedule_data(schedule)
    schedule.method = method
    schedule.amount_mode = amount_mode
    schedule.limit_amount = limit_amount if amount_mode == AutoPaySchedule.AmountMode.UP_TO_LIMIT else None
    schedule.timing = timing
    schedule.days_before_due = days_before_due if timing == AutoPaySchedule.Timing.DAYS_BEFORE_DUE else None
    schedule.weekday = weekday if timing == AutoPaySchedule.Timing.WEEKDAY else None
    schedule.until_date = until_date
    schedule.consent_at = timezone.now()
    schedule.terms_version = TERMS_VERSION
    schedule.save()
    after = _schedule_data(schedule)
    audit_record(
        action="autopay.updated",
        actor=actor,
        company=schedule.company,
        target=schedule,
        data={
            "changes": {k: [before[k], after[k]] for k in after if before[k] != after[k]},
            "terms_version": TERMS_VERSION,
        },
        ip_address=ip_address,
    )
    return schedule


def _set_status(*, actor, schedule: AutoPaySchedule, to: str, allowed_from: tuple, action: str, data=None):
    schedule = (
        AutoPaySchedule.objects.select_for_update(of=("self",)).select_related("account", "plan").get(pk=schedule.pk)
    )
    if schedule.status not in allowed_from:
        raise ApplicationError(_("This AutoPay cannot be changed that way now."), code="invalid_transition")
    previous = schedule.status
    schedule.status = to
    schedule.save(update_fields=["status"])
    audit_record(
        action=action, actor=actor, company=schedule.company, target=schedule, data={"from": previous, **(data or {})}
    )
    return schedule


@transaction.atomic
def autopay_pause(*, actor, schedule: AutoPaySchedule, reason: str = "paused_by_user") -> AutoPaySchedule:
    S = AutoPaySchedule.Status
    return _set_status(
        actor=actor,
        schedule=schedule,
        to=S.PAUSED,
        allowed_from=(S.ACTIVE,),
        action="autopay.paused",
        data={"reason": reason},
    )


@transaction.atomic
def autopay_resume(*, actor, schedule: AutoPaySchedule) -> AutoPaySchedule:
    S = AutoPaySchedule.Status
    current = AutoPaySchedule.objects.select_related("method").get(pk=schedule.pk)
    if not method_usable(current.method, timezone.localdate()):
        raise ApplicationError(_("Choose a payment method that has not expired before AutoPay starts again."))
    return _set_status(actor=actor, schedule=schedule, to=S.ACTIVE, allowed_from=(S.PAUSED,), action="autopay.resumed")


@transaction.atomic
def autopay_cancel(*, actor, schedule: AutoPaySchedule) -> AutoPaySchedule:
    S = AutoPaySchedule.Status
    return _set_status(
        actor=actor, schedule=schedule, to=S.CANCELLED, allowed_from=(S.ACTIVE, S.PAUSED), action="autopay.cancelled"
    )


# --- The daily run -----------------------------------------------------------------------------


def attempt_key(schedule_id: int, invoice_id: int, attempt_no: int) -> str:
    return f"autopay:{schedule_id}:{invoice_id}:{attempt_no}"


def decline_is_soft(code: str) -> bool:
    from .gateways.base import DeclineKind
    from .gateways.simulated import DECLINES
    from .gateways.stripe_backend import SOFT_DECLINES

    return code == "not_sent" or code in SOFT_DECLINES or DECLINES.get(code) == DeclineKind.SOFT


def autopay_attempts_sync() -> int:
    """Attempts left *processing* take the outcome reconciliation found for their payment."""
    changed = 0
    for attempt in AutoPayAttempt.objects.filter(outcome=Outcome.PROCESSING, payment__isnull=False).select_related(
        "payment"
    ):
        fields = _outcome_of(attempt.payment)
        if fields["outcome"] == Outcome.PROCESSING:
            continue
        AutoPayAttempt.objects.filter(pk=attempt.pk, outcome=Outcome.PROCESSING).update(**fields)
        changed += 1
    return changed


def _outcome_of(payment: Payment | None) -> dict:
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


def _no_heartbeat() -> None:
    """An unrecorded run (a shell, a test) holds no lease."""


def autopay_run(*, today: datetime.date | None = None, recorder=None) -> Counter:
    """The daily job: scheduled one-time payments, then every live AutoPay schedule."""
    today = today or timezone.localdate()
    counts: Counter = Counter()
    # Alive: renews the run's lease (at most one UPDATE per quarter lease), called in every loop of
    # the run, not only after a charge, so a slow gateway or many scheduled payments first never
    # let the watch take a live run for a dead one.
    heartbeat = recorder.heartbeat if recorder is not None else _no_heartbeat

    def error(message: str) -> None:
        counts["errors"] += 1
        if recorder is not None:
            recorder.error(message)

    for payment_id in (
        Payment.objects.filter(status=PaymentStatus.SCHEDULED, scheduled_for__lte=today)
        .order_by("scheduled_for", "id")
        .values_list("id", flat=True)
    ):
        heartbeat()
        try:
            payment = payment_scheduled_run(payment_id=payment_id)
            counts[f"scheduled_{payment.status}"] += 1
        except Exception as exc:  # noqa: BLE001 - one payment's failure must not stop the run
            logger.exception("Scheduled payment %s failed", payment_id)
            error(f"scheduled payment {payment_id}: {type(exc).__name__}: {exc}")

    counts["synced"] += autopay_attempts_sync()
    heartbeat()
    # What a run whose worker died left half-done is finished first, when no other run is alive.
    # An unrecorded call (a shell, a test) cannot tell whether another run is alive: it never does.
    if recorder is not None and not recorder.others_running():
        counts.update(
            autopay_resume_abandoned(today=today, claimed_before=recorder.record.started_at, heartbeat=heartbeat)
        )

    schedule_ids = list(
        AutoPaySchedule.objects.filter(status=AutoPaySchedule.Status.ACTIVE, start_date__lte=today)
        .filter(Q(until_date__isnull=True) | Q(until_date__gte=today))
        .order_by("id")
        .values_list("id", flat=True)
    )
    for schedule_id in schedule_ids:
        heartbeat()
        try:
            counts.update(autopay_schedule_run(schedule_id=schedule_id, today=today, heartbeat=heartbeat))
        except Exception as exc:  # noqa: BLE001
            logger.exception("AutoPay schedule %s failed", schedule_id)
            error(f"AutoPay schedule {schedule_id}: {type(exc).__name__}: {exc}")
    counts["schedules"] += len(schedule_ids)
    if recorder is not None:
        for key, value in counts.items():
            recorder.count(key, value)
    return counts


def autopay_schedule_run(*, schedule_id: int, today: datetime.date, heartbeat=None) -> Counter:
    """Pay what one schedule owes today; one attempt row (and at most one payment) per invoice per run.

    Batched, so that the queries do not grow with the invoices beyond the gateway's own:

    1. ``_claim``: one transaction that holds the schedule's row lock inserts the day's attempts
       and commits. A second run waits for the lock, then finds today's attempts and leaves
       those invoices alone;
    2. then, ``CHUNK`` attempts at a time (``_pay_chunk``): the schedule must still be active;
       their payments are opened as *processing* (``payments_open``: locks, balances re-checked,
       credits first) and committed; the gateway is asked to charge each (``payment_charge``
       sends a payment only while it is processing and unsent); one transaction settles the
       answers (``payments_settle``), records each attempt's outcome and audit event, and
       pauses the schedule after a hard decline; receipts and notices go out after the commit.

    A hard decline, or a pause made meanwhile, stops the run: the payments of the chunk not yet
    sent fail as ``not_sent`` (never sent; retried once AutoPay is resumed), and the attempts
    of later chunks are removed, as if the run had not reached them. A crash (a worker killed)
    leaves claimed attempts without a payment, and processing payments sent or not: the next
    recorded run finishes them once the dead run's lease has expired
    (``autopay_resume_abandoned``), and ``payment_reconcile`` settles the ones sent meanwhile;
    nothing is charged twice.
    """
    counts: Counter = Counter()
    claimed = _claim(schedule_id, today, counts)
    if claimed is None:
        return counts
    schedule, source, paying = claimed
    _pay_chunks(schedule, source, paying, counts, heartbeat)
    return counts


def _pay_chunks(schedule, source, paying: list[AutoPayAttempt], counts: Counter, heartbeat=None) -> None:
    """Pay ``paying`` ``CHUNK`` at a time while the schedule stays active; see ``autopay_schedule_run``."""
    for start in range(0, len(paying), CHUNK):
        chunk = paying[start : start + CHUNK]
        active = AutoPaySchedule.objects.filter(pk=schedule.pk, status=AutoPaySchedule.Status.ACTIVE).exists()
        if not active or not _pay_chunk(schedule, source, chunk, counts, heartbeat):
            # Stopped: the invoices not reached are not attempted today; payments opened for them
            # (by a run that died) and never sent fail as not sent.
            left = paying[start if not active else start + CHUNK :]
            AutoPayAttempt.objects.filter(
                pk__in=[a.pk for a in left], outcome=Outcome.PENDING, payment__isnull=True
            ).delete()
            opened = [a for a in left if a.payment_id is not None]
            if opened:
                _record(schedule, [], opened, hard_decline=False, counts=counts)
            break


# Attempts a run left unfinished: claimed without a payment, or with a payment still processing.
UNFINISHED = Q(outcome=Outcome.PENDING, payment__isnull=True) | Q(
    outcome__in=(Outcome.PENDING, Outcome.PROCESSING), payment__status=PaymentStatus.PROCESSING
)


def autopay_resume_abandoned(
    *, today: datetime.date, claimed_before: datetime.datetime | None = None, heartbeat=None
) -> Counter:
    """Finish what runs whose worker died left half-done (the caller made sure none is alive).

    Only attempts claimed before ``claimed_before`` (the caller's start) are taken over: a run
    that started after the caller looked for live runs is alive, and its claims are its own.

    Per schedule, under its row lock: claims that never got a payment are removed, as if the dead
    run had not reached them (the caller's claim takes their invoices again, with every check
    made anew); payments opened and sent are asked of the gateway (``payment_reconcile``: settled
    if it has them, else left to reconciliation, never sent again); payments opened and never sent
    are charged as a run charges them (``_pay_chunks``), with their own keys, so that an invoice is
    charged once whoever gets there first. A schedule no longer active (paused, cancelled) or
    whose method changed sends none of them: they fail as never sent.
    """
    counts: Counter = Counter()
    unfinished = AutoPayAttempt.objects.filter(UNFINISHED, run_on__lte=today)
    if claimed_before is not None:
        unfinished = unfinished.filter(created_at__lt=claimed_before)
    schedule_ids = list(unfinished.order_by("schedule_id").values_list("schedule_id", flat=True).distinct())
    for schedule_id in schedule_ids:
        if heartbeat is not None:
            heartbeat()
        try:
            counts.update(_resume_schedule(schedule_id, unfinished.filter(schedule_id=schedule_id), today, heartbeat))
        except Exception:  # noqa: BLE001 - one schedule must not stop the others
            logger.exception("AutoPay schedule %s: the work of a dead run could not be resumed", schedule_id)
            counts["errors"] += 1
    return counts


def _resume_schedule(
    schedule_id: int, unfinished: QuerySet[AutoPayAttempt], today: datetime.date, heartbeat
) -> Counter:
    """``autopay_resume_abandoned`` of one schedule: ``unfinished`` are its attempts to finish."""
    counts: Counter = Counter()
    with transaction.atomic():
        schedule = (
            AutoPaySchedule.objects.select_for_update(of=("self",))
            .select_related("company", "account", "plan", "method", "created_by")
            .get(pk=schedule_id)
        )
        left = list(
            unfinished.select_related("invoice", "payment").order_by("invoice__due_date", "invoice__number", "id")
        )
        claims = [a for a in left if a.payment_id is None]
        AutoPayAttempt.objects.filter(pk__in=[a.pk for a in claims], payment__isnull=True).delete()
        opened = [a for a in left if a.payment_id is not None]
        # Finished today: today's attempts (a claim of today sees them and tries none twice a day).
        AutoPayAttempt.objects.filter(pk__in=[a.pk for a in opened], run_on__lt=today).update(run_on=today)
    counts["claims_released"] += len(claims)
    counts["resumed"] += len(opened)
    unsent = []
    for attempt in opened:
        if attempt.payment.sent_at is None:
            unsent.append(attempt)
        else:
            if heartbeat is not None:
                heartbeat()
            payment_reconcile(payment=attempt.payment)
    usable = schedule.status == AutoPaySchedule.Status.ACTIVE and schedule.method is not None
    stop = [a for a in unsent if not usable or a.payment.method_id != schedule.method_id]
    if stop:
        _record(schedule, [], stop, hard_decline=False, counts=counts)
    if to_charge := [a for a in unsent if a not in stop]:
        _pay_chunks(schedule, PaymentSource.from_method(schedule.method), to_charge, counts, heartbeat)
    counts["synced"] += autopay_attempts_sync()
    return counts


def _claim(schedule_id: int, today: datetime.date, counts: Counter):
    """Step 1: the day's attempts, committed; (schedule, payment source, attempts to pay) or None."""
    with transaction.atomic():
        schedule = (
            AutoPaySchedule.objects.select_for_update(of=("self",))
            .select_related("company", "account", "plan", "method", "created_by")
            .get(pk=schedule_id)
        )
        if not schedule_live_on(schedule, today):
            return None
        invoices = [inv for inv in schedule_invoices(schedule) if invoice_due_for_run(schedule, inv, today)]
        history = _history([schedule.id], [inv.id for inv in invoices])
        checks = _checks_by_invoice(invoices, schedule.method.kind if schedule.method else None)
        attempts: list[AutoPayAttempt] = []
        paying: list[AutoPayAttempt] = []
        for invoice in invoices:
            prior = history.get((schedule.id, invoice.id), [])
            if any(a.run_on == today for a in prior) or _in_progress(prior, today) or _gave_up(prior):
                continue
            remaining = checks[invoice.id].amount  # the balance less payments in flight
            if remaining <= 0:
                continue  # paid meanwhile, or a payment is in flight
            plan = classify(schedule, invoice, remaining, today, checks[invoice.id])
            if plan != "pay" and prior and prior[-1].outcome == plan:
                continue  # the same reason as last time: the users were already told
            attempt_no = max((a.attempt_no for a in prior), default=0) + 1
            attempt = AutoPayAttempt(
                schedule=schedule,
                invoice=invoice,
                attempt_no=attempt_no,
                run_on=today,
                idempotency_key=attempt_key(schedule.id, invoice.id, attempt_no),
                outcome=Outcome.PENDING if plan == "pay" else plan,
                amount=remaining,
            )
            attempts.append(attempt)
            if plan == "pay":
                paying.append(attempt)
        if not attempts:
            return None
        for attempt in attempts:
            attempt.notice_due = attempt.outcome in (Outcome.SKIPPED_OVER_LIMIT, Outcome.SKIPPED_METHOD)
        try:
            with transaction.atomic():
                # The claim: one row per (schedule, invoice, attempt number) and per run day.
                AutoPayAttempt.objects.bulk_create(attempts)
        except IntegrityError:
            counts["claimed_elsewhere"] += len(attempts)  # another run claimed them first: it pays them
            return None
        for attempt in attempts:
            if attempt.outcome != Outcome.PENDING:
                counts[attempt.outcome] += 1
            if attempt.notice_due:
                _notify_after_commit(attempt.id)
    source = PaymentSource.from_method(schedule.method) if paying else None
    return schedule, source, paying


def _pay_chunk(schedule, source, chunk: list[AutoPayAttempt], counts: Counter, heartbeat=None) -> bool:
    """Open, charge and record the payments of ``chunk``; False when the run must stop.

    Attempts taken over from a run that died may already have their payment: it is charged if it
    is still processing and unsent (``payment_charge`` sends a payment once, whoever asks).
    """
    opening = [a for a in chunk if a.payment_id is None]
    with transaction.atomic():
        answers = payments_open(
            requests=[PaymentRequest(idempotency_key=a.idempotency_key, invoice_ids=[a.invoice_id]) for a in opening],
            source=source,
            company=schedule.company,
            payer_email=_receipt_address(schedule),
        )
        current = Payment.objects.in_bulk([a.payment_id for a in chunk if a.payment_id is not None])
        to_charge, settled = [], []
        for attempt in chunk:
            if attempt.payment_id is not None:
                attempt.payment = current[attempt.payment_id]
            else:
                answer = answers[attempt.idempotency_key]
                if isinstance(answer, ApplicationError):  # paid or disputed meanwhile, say
                    attempt.outcome, attempt.message = Outcome.SKIPPED_NOT_PAYABLE, str(answer.message)[:300]
                    settled.append(attempt)
                    continue
                attempt.payment = answer.payments[0] if answer.payments else None
            for name, value in _outcome_of(attempt.payment).items():
                setattr(attempt, name, value)
            if attempt.outcome == Outcome.PROCESSING and attempt.payment.sent_at is None:
                to_charge.append(attempt)
            else:
                settled.append(attempt)  # credits covered it, or a known outcome, or sent by another run
        linked = [a for a in opening if a.payment_id is not None]
        if linked:  # one statement: the payment ids all differ
            AutoPayAttempt.objects.bulk_update(linked, ["payment"])
        rows_update(chunk, ["outcome", "decline_code", "message"])
        AuditEvent.objects.bulk_create(_attempt_event(schedule, a) for a in settled)
    for attempt in settled:
        counts[attempt.outcome] += 1
    charged: list[tuple[AutoPayAttempt, ChargeResult]] = []
    unsent: list[AutoPayAttempt] = []
    hard_decline = False
    for attempt in to_charge:
        if hard_decline:
            unsent.append(attempt)
            continue
        result = payment_charge(attempt.payment, source)
        charged.append((attempt, result))
        if heartbeat is not None:
            heartbeat()
        if result.outcome == GatewayOutcome.DECLINED and not decline_is_soft(result.decline_code):
            hard_decline = True  # this method will not pay today: nothing more is sent
    _record(schedule, charged, unsent, hard_decline=hard_decline, counts=counts)
    return not hard_decline


def _record(schedule, charged, unsent, *, hard_decline: bool, counts: Counter) -> None:
    """Settle what the gateway answered (and what was never sent) and record each attempt.

    A payment is failed as never sent only while, under its row lock, it is still unsent: one that
    another run sent meanwhile (a run taking over, or the one taken over) is that run's to settle.
    """
    with transaction.atomic():
        if hard_decline:
            try:
                autopay_pause(actor=None, schedule=schedule, reason="hard_decline")
            except ApplicationError:
                pass  # paused or cancelled meanwhile
        locked = list(
            Payment.objects.select_for_update()
            .filter(pk__in=[a.payment_id for a, _r in charged] + [a.payment_id for a in unsent])
            .order_by("id")
        )
        still_unsent = {p.id for p in locked if p.status == PaymentStatus.PROCESSING and p.sent_at is None}
        unsent = [a for a in unsent if a.payment_id in still_unsent]
        payments = payments_settle(results=[(a.payment_id, result) for a, result in charged])
        payments += payments_settle(results=[(a.payment_id, NOT_SENT) for a in unsent], source="autopay_stopped")
        attempts = [a for a, _result in charged] + unsent
        for index, (attempt, payment) in enumerate(zip(attempts, payments, strict=True)):
            attempt.payment = payment
            for name, value in _outcome_of(payment).items():
                setattr(attempt, name, value)
            counts[attempt.outcome] += 1
            if attempt.outcome in (Outcome.FAILED_SOFT, Outcome.FAILED_HARD) and index < len(charged):
                attempt.notice_due = True
                _notify_after_commit(attempt.id)  # nothing to tell about a charge never sent
        rows_update(attempts, ["outcome", "decline_code", "message", "notice_due"])
        AuditEvent.objects.bulk_create(_attempt_event(schedule, a) for a in attempts)


def _attempt_event(schedule: AutoPaySchedule, attempt: AutoPayAttempt) -> AuditEvent:
    return audit_event_build(
        action=f"autopay.{attempt.outcome}",
        company_id=schedule.company_id,
        target=schedule,
        data={
            "invoice": attempt.invoice.number,
            "attempt": attempt.attempt_no,
            "payment": attempt.payment.reference if attempt.payment else None,
            "code": attempt.decline_code,
        },
    )


def _receipt_address(schedule: AutoPaySchedule) -> str:
    if schedule.created_by and schedule.created_by.email:
        return schedule.created_by.email
    recipients = autopay_recipients(schedule)
    return recipients[0] if recipients else ""


# --- E-mails -----------------------------------------------------------------------------------


def _site_url(path: str) -> str:
    return getattr(settings, "SITE_URL", "").rstrip("/") + path


def autopay_recipients(schedule: AutoPaySchedule) -> list[str]:
    """Users who may pay the schedule's account or plan: Administrators, assigned Managers and Payers."""
    memberships = Membership.objects.filter(company_id=schedule.company_id).select_related("user")
    if schedule.account_id:
        memberships = memberships.filter(Q(role=Role.ADMINISTRATOR) | Q(accounts=schedule.account_id))
    else:
        memberships = memberships.filter(Q(role=Role.ADMINISTRATOR) | Q(plans=schedule.plan_id))
    emails = []
    for membership in memberships.distinct().order_by("user__username"):
        if role_allows(membership.role, Action.PAY) and membership.user.email and membership.user.is_active:
            if membership.user.email not in emails:
                emails.append(membership.user.email)
    return emails


def _notify_after_commit(attempt_id: int) -> None:
    """Queue the attempt's notice after the commit (``notice_due`` is set in the same transaction)."""
    from .tasks import autopay_notice_send_task

    enqueue_on_commit(autopay_notice_send_task, attempt_id)


NOTICE_REQUEUE_AFTER = datetime.timedelta(minutes=5)
NOTICE_REQUEUE_WITHIN = datetime.timedelta(days=3)


def autopay_notice_deliver(*, attempt_id: int) -> bool:
    """Send one attempt's notice once and mark it sent (the task behind every AutoPay notice).

    The attempt's row is locked while the notice goes out and skipped when another worker holds
    it, so the original message and a sweep's copy never send two notices; a failure to send
    leaves the marker empty and the sweep tries again.
    """
    with transaction.atomic():
        attempt = (
            AutoPayAttempt.objects.select_for_update(of=("self",), skip_locked=True)
            .filter(pk=attempt_id, notice_due=True, notice_sent_at__isnull=True)
            .first()
        )
        if attempt is None:
            return False  # sent already, being sent by another worker, or nothing to tell
        sent = autopay_notice_send(attempt_id=attempt.pk)
        if sent:
            AutoPayAttempt.objects.filter(pk=attempt.pk).update(notice_sent_at=timezone.now())
        return sent


def autopay_notices_requeue(*, older_than: datetime.timedelta = NOTICE_REQUEUE_AFTER) -> int:
    """Queue again the notices not out yet (the broker or the mail server was down); how many."""
    from .tasks import autopay_notice_send_task

    now = timezone.now()
    due = (
        AutoPayAttempt.objects.filter(
            notice_due=True,
            notice_sent_at__isnull=True,
            created_at__lte=now - older_than,
            created_at__gte=now - NOTICE_REQUEUE_WITHIN,
        )
        .order_by("created_at", "id")
        .values_list("id", flat=True)
    )
    return sum(enqueue(autopay_notice_send_task, attempt_id) for attempt_id in due)


def autopay_notice_send(*, attempt_id: int) -> bool:
    """The over-limit notice or the failure notice of one attempt, with a link to pay once."""
    attempt = AutoPayAttempt.objects.select_related(
        "schedule__company", "schedule__account", "schedule__plan", "schedule__method", "invoice"
    ).get(pk=attempt_id)
    schedule = attempt.schedule
    recipients = autopay_recipients(schedule)
    if not recipients:
        return False
    invoice = attempt.invoice
    context = {
        "attempt": attempt,
        "schedule": schedule,
        "billable": schedule.account or schedule.plan,
        "invoice": invoice,
        "amount": format_money(attempt.amount or invoice.balance, invoice.currency),
        "limit": format_money(schedule.limit_amount, invoice.currency) if schedule.limit_amount else "",
        "retries_left": max(0, MAX_RETRIES + 1 - attempt.attempt_no),
        "pay_url": _site_url(reverse("payments:pay") + f"?invoice={invoice.number}"),
        "autopay_url": _site_url(reverse("payments:autopay")),
        "wallet_url": _site_url(reverse("payments:wallet") + f"?company={schedule.company_id}"),
    }
    with translation.override(settings.LANGUAGE_CODE):
        subject = " ".join(render_to_string("payments/email/autopay_notice_subject.txt", context).split())
        body = render_to_string("payments/email/autopay_notice_body.txt", context)
    try:
        EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, recipients).send(fail_silently=False)
    except Exception:  # noqa: BLE001 - a mail outage must not undo a committed attempt
        logger.exception("AutoPay notice for attempt %s failed", attempt_id)
        return False
    return True


# --- Card expiry reminders ---------------------------------------------------------------------


def card_expiry_reminders_send(*, today: datetime.date | None = None, recorder=None) -> int:
    """E-mail the payers once when a card used by a live AutoPay expires within 30 days."""
    today = today or timezone.localdate()
    methods = (
        PaymentMethod.objects.filter(
            kind__in=CARD_KINDS,
            exp_month__isnull=False,
            exp_year__isnull=False,
            autopay_schedules__status__in=(AutoPaySchedule.Status.ACTIVE, AutoPaySchedule.Status.PAUSED),
        )
        .distinct()
        .select_related("company")
        .order_by("id")
    )
    sent = 0
    for method in methods:
        if recorder is not None:
            recorder.heartbeat()  # alive: renews the run's lease now and then
        last_day = card_last_day(method)
        if last_day is None or not (today <= last_day <= today + datetime.timedelta(days=EXPIRY_REMINDER_DAYS)):
            continue
        schedules = list(
            method.autopay_schedules.filter(LIVE).select_related("company", "account", "plan").order_by("id")
        )
        recipients: list[str] = []
        for schedule in schedules:
            for email in autopay_recipients(schedule):
                if email not in recipients:
                    recipients.append(email)
        try:
            with transaction.atomic():
                CardExpiryReminder.objects.create(
                    method=method, exp_month=method.exp_month, exp_year=method.exp_year, recipients=recipients
                )
        except IntegrityError:
            continue  # already reminded for this expiry date
        if recipients:
            context = {
                "method": method,
                "last_day": last_day,
                "billables": [str(s.account or s.plan) for s in schedules],
                "edit_url": _site_url(reverse("payments:wallet_edit", args=[method.id])),
                "autopay_url": _site_url(reverse("payments:autopay")),
            }
            with translation.override(settings.LANGUAGE_CODE):
                subject = " ".join(render_to_string("payments/email/card_expiry_subject.txt", context).split())
                body = render_to_string("payments/email/card_expiry_body.txt", context)
            try:
                EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, recipients).send(fail_silently=False)
            except Exception as exc:  # noqa: BLE001
                logger.exception("Expiry reminder for method %s failed", method.id)
                if recorder is not None:
                    recorder.error(f"method {method.id}: {exc}")
                continue
        sent += 1
    if recorder is not None:
        recorder.count("reminded", sent)
    return sent
