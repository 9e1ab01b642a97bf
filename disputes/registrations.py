"""What disputes tells accounts about an account or plan (``accounts.registry``), registered in
``DisputesConfig.ready()``: an open dispute of one of its invoices blocks removing it from its
company (accounts never queries disputes itself)."""

from __future__ import annotations

from django.utils.translation import gettext as _

from accounts.models import BillingPlan
from accounts.registry import removal_blockers

from .models import OPEN_DISPUTE_STATUSES, Dispute

# Blockers are listed in this order (AutoPay first, then disputes).
REMOVAL_BLOCKER_ORDER = 20


def open_dispute_removal_blocker(billable) -> list[str]:
    """An open dispute of one of the account's (or plan's) invoices blocks its removal."""
    field = "invoice__plan" if isinstance(billable, BillingPlan) else "invoice__account"
    if Dispute.objects.filter(**{field: billable}, status__in=OPEN_DISPUTE_STATUSES).exists():
        return [_("A dispute of one of its invoices is still open.")]
    return []


def register() -> None:
    removal_blockers.register(open_dispute_removal_blocker, order=REMOVAL_BLOCKER_ORDER)
