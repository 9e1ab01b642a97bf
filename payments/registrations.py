"""What payments tells accounts about an account or plan (``accounts.registry``), registered in
``PaymentsConfig.ready()``: accounts never queries AutoPay schedules itself.

- a live AutoPay schedule (any status but cancelled) blocks removing the account or plan from its
  company;
- the My Accounts / My Plans tables show ``autopay_live``: how many live schedules each row has,
  counted for a whole page in one query.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Count
from django.utils.translation import gettext as _

from accounts.models import BillingPlan
from accounts.registry import billable_flags, removal_blockers

from .models import AutoPaySchedule

# Blockers are listed in this order (AutoPay first, then disputes).
REMOVAL_BLOCKER_ORDER = 10


def _field(billable) -> str:
    return "plan" if isinstance(billable, BillingPlan) else "account"


def _live_schedules():
    return AutoPaySchedule.objects.exclude(status=AutoPaySchedule.Status.CANCELLED)


def autopay_removal_blocker(billable) -> list[str]:
    """A live AutoPay schedule of the account or plan blocks its removal from the company."""
    if _live_schedules().filter(**{_field(billable): billable}).exists():
        return [_("AutoPay is set up for it. Cancel AutoPay first.")]
    return []


def autopay_live_flags(billables: Sequence) -> dict[int, dict[str, int]]:
    """``{pk: {"autopay_live": <live schedules>}}`` for every account (or plan) of a page, in one query."""
    if not billables:
        return {}
    field = _field(billables[0])
    ids = [billable.pk for billable in billables]
    counts = dict(
        _live_schedules()
        .filter(**{f"{field}_id__in": ids})
        .order_by()
        .values(f"{field}_id")
        .annotate(live=Count("id"))
        .values_list(f"{field}_id", "live")
    )
    return {pk: {"autopay_live": counts.get(pk, 0)} for pk in ids}


def register() -> None:
    removal_blockers.register(autopay_removal_blocker, order=REMOVAL_BLOCKER_ORDER)
    billable_flags.register(autopay_live_flags)
