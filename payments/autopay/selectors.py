"""Reads for AutoPay (R6), scoped to what the user may see: schedules, what their next run will
do (previews), the accounts and plans a user may set AutoPay up for, and whom AutoPay tells.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from accounts.access import Action, require, role_allows
from accounts.models import BillingPlan, Membership, Role, ShippingAccount
from accounts.selectors import account_list_visible, plan_list_visible
from invoices.models import Invoice, InvoiceStatus

from ..models import AutoPayAttempt, AutoPaySchedule, PaymentMethod
from ..selectors import payment_method_list
from ..services.checks import invoice_checks, kind_allowed, payment_kinds_for_country, reserved_amounts
from .rules import (
    LIVE,
    PLAN_TEXT,
    attempts_gave_up,
    attempts_in_progress,
    classify,
    invoice_run_date,
    method_usable,
    next_weekday,
    schedule_ended,
)


def _billable_filter(schedule: AutoPaySchedule) -> Q:
    return Q(account_id=schedule.account_id) if schedule.account_id else Q(plan_id=schedule.plan_id)


def schedule_invoices(schedule: AutoPaySchedule) -> QuerySet[Invoice]:
    """Open invoices the schedule pays: issued on or after its start, each marked ``disputed`` or not."""
    return (
        Invoice.objects.filter(_billable_filter(schedule), status=InvoiceStatus.OPEN)
        .filter(invoice_date__gte=schedule.start_date)
        .select_related("account", "plan")
        .with_disputed()
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


def attempt_history(schedule_ids, invoice_ids) -> dict[tuple[int, int], list[AutoPayAttempt]]:
    history: dict[tuple[int, int], list[AutoPayAttempt]] = {}
    for attempt in AutoPayAttempt.objects.filter(schedule_id__in=schedule_ids, invoice_id__in=invoice_ids).order_by(
        "attempt_no"
    ):
        history.setdefault((attempt.schedule_id, attempt.invoice_id), []).append(attempt)
    return history


def checks_by_invoice(invoices: list[Invoice], method_kind: str | None) -> dict[int, object]:
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
        .with_disputed()
        .order_by("due_date", "number")
    )
    reserved = reserved_amounts(inv.id for inv in invoices)
    history = attempt_history([s.id for s in schedules], [inv.id for inv in invoices])
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
        if remaining <= 0 or attempts_in_progress(prior, today):
            action = "in_progress"
        elif attempts_gave_up(prior):
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


# --- For the My AutoPay pages ------------------------------------------------------------------


def autopay_get_changeable(*, user, pk: int) -> AutoPaySchedule | None:
    """A live schedule the user may change: None outside the user's scope (404); ``PermissionDenied``
    when the user sees it but the role may not change AutoPay (403)."""
    schedule = (
        AutoPaySchedule.objects.filter(LIVE)
        .select_related("company", "account", "plan", "method")
        .filter(pk=pk)
        .first()
    )
    if schedule is not None:
        require(user, Action.AUTOPAY, account=schedule.account, plan=schedule.plan)
    return schedule


def autopay_billable_get(*, user, account_number: str = "", plan_number: str = ""):
    """The account or plan (by number) the user may set AutoPay up for; None when neither is given
    or it is outside the user's scope (404); ``PermissionDenied`` when the role may not (403)."""
    number = account_number.strip().upper()
    plan_number = plan_number.strip().upper()
    if "\x00" in number + plan_number:  # PostgreSQL cannot compare NUL: no such account or plan
        return None
    if number:
        billable = account_list_visible(user=user).select_related("company").filter(number=number).first()
        if billable is not None:
            require(user, Action.AUTOPAY, account=billable)
        return billable
    if plan_number:
        billable = plan_list_visible(user=user).select_related("company").filter(number=plan_number).first()
        if billable is not None:
            require(user, Action.AUTOPAY, plan=billable)
        return billable
    return None


def autopay_methods_for(billable, *, today: datetime.date | None = None) -> QuerySet[PaymentMethod]:
    """The wallet methods AutoPay may use for the billable: accepted in its country, not expired."""
    today = today or timezone.localdate()
    allowed = payment_kinds_for_country(billable.country)
    ids = [m.id for m in payment_method_list(company=billable.company) if m.kind in allowed and method_usable(m, today)]
    return payment_method_list(company=billable.company).filter(id__in=ids)


def autopay_method_initial(methods: QuerySet[PaymentMethod], *, schedule: AutoPaySchedule | None = None) -> int | None:
    """The method the AutoPay form starts on: a schedule's own while still usable (else none, to be
    chosen again); for a new schedule the wallet's default, else its first usable method."""
    if schedule is not None:
        return schedule.method_id if methods.filter(pk=schedule.method_id).exists() else None
    chosen = methods.filter(is_default=True).first() or methods.first()
    return chosen.id if chosen else None


def autopay_billables_available(*, user, schedules) -> list[dict]:
    """Accounts and plans the user may set AutoPay up for that have none yet (with the URL parameter)."""
    scheduled = {(s.account_id, s.plan_id) for s in schedules}
    available = []
    for billable in billables_for_autopay(user=user):
        is_account = isinstance(billable, ShippingAccount)
        if ((billable.id, None) if is_account else (None, billable.id)) not in scheduled:
            available.append({"billable": billable, "param": "account" if is_account else "plan"})
    return available
