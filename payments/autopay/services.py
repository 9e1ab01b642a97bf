"""Writes for AutoPay schedules (R6): set up, change, pause, resume, cancel; each audited.

A schedule's terms travel as one value (``AutoPayTerms``); its status changes along
``AUTOPAY_TRANSITIONS`` (payments/models.py) through ``core.transitions.transition``. Locks: the
account or plan first (set-up), else the schedule row.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.models import BillingPlan, ShippingAccount
from core.exceptions import ApplicationError
from core.transitions import transition

from ..models import AUTOPAY_TRANSITIONS, AutoPaySchedule
from .rules import LIVE, TERMS_VERSION, AutoPayTerms, method_usable


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
    consent: bool,
    terms: AutoPayTerms | None = None,
    ip_address: str | None = None,
    **fields,
) -> AutoPaySchedule:
    """Set up AutoPay for one account or plan; it pays invoices issued from today on.

    ``terms`` are what the person chose (the terms' fields may also be given one by one, as the
    seed data and older callers do)).
    """
    terms = terms or AutoPayTerms(**fields)
    today = timezone.localdate()
    if not consent:
        raise ApplicationError(_("Tick the box to agree to the AutoPay terms."), field="consent")
    company = billable.company
    terms.check(company_id=company.id, billable=billable, today=today)
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
        **terms.stored(),
        start_date=today,
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
    consent: bool,
    terms: AutoPayTerms | None = None,
    ip_address: str | None = None,
    **fields,
) -> AutoPaySchedule:
    """Change a schedule's terms; the person agrees to the terms again, and the consent is recorded anew."""
    terms = terms or AutoPayTerms(**fields)
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
    terms.check(company_id=schedule.company_id, billable=schedule.account or schedule.plan, today=today)
    before = _schedule_data(schedule)
    for name, value in terms.stored().items():
        setattr(schedule, name, value)
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


def _refused(current: str, to: str) -> ApplicationError:
    return ApplicationError(_("This AutoPay cannot be changed that way now."), code="invalid_transition")


def _autopay_transition(*, actor, schedule: AutoPaySchedule, to: str, action: str, data=None) -> AutoPaySchedule:
    """The one place a schedule changes status: locked, checked against the table, audited."""
    schedule = (
        AutoPaySchedule.objects.select_for_update(of=("self",)).select_related("account", "plan").get(pk=schedule.pk)
    )
    previous = transition(schedule, to, table=AUTOPAY_TRANSITIONS, refused=_refused)
    schedule.save(update_fields=["status"])
    audit_record(
        action=action, actor=actor, company=schedule.company, target=schedule, data={"from": previous, **(data or {})}
    )
    return schedule


@transaction.atomic
def autopay_pause(*, actor, schedule: AutoPaySchedule, reason: str = "paused_by_user") -> AutoPaySchedule:
    return _autopay_transition(
        actor=actor,
        schedule=schedule,
        to=AutoPaySchedule.Status.PAUSED,
        action="autopay.paused",
        data={"reason": reason},
    )


@transaction.atomic
def autopay_resume(*, actor, schedule: AutoPaySchedule) -> AutoPaySchedule:
    current = AutoPaySchedule.objects.select_related("method").get(pk=schedule.pk)
    if not method_usable(current.method, timezone.localdate()):
        raise ApplicationError(_("Choose a payment method that has not expired before AutoPay starts again."))
    return _autopay_transition(
        actor=actor, schedule=schedule, to=AutoPaySchedule.Status.ACTIVE, action="autopay.resumed"
    )


@transaction.atomic
def autopay_cancel(*, actor, schedule: AutoPaySchedule) -> AutoPaySchedule:
    return _autopay_transition(
        actor=actor, schedule=schedule, to=AutoPaySchedule.Status.CANCELLED, action="autopay.cancelled"
    )
