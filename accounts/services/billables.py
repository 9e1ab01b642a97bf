"""My Accounts / My Plans (R17-R18, R27): XML enrolment and removal from the company.

What blocks a removal is not accounts' to know: payments (a live AutoPay schedule) and disputes
(an open dispute) register their blockers in ``accounts.registry.removal_blockers``.
"""

from __future__ import annotations

from django.db import transaction
from django.dispatch import Signal
from django.utils.translation import gettext as _

from core.exceptions import ApplicationError

from ..audit import audit_record
from ..models import BillingPlan
from ..registry import removal_blockers


def _billable_kind(billable) -> str:
    return "plan" if isinstance(billable, BillingPlan) else "account"


@transaction.atomic
def billable_xml_set(*, actor, billable, enabled: bool, ip_address: str | None = None):
    """Turn XML invoices on or off for an account or plan (R17-R18); audited."""
    model = type(billable)
    billable = model.objects.select_for_update().get(pk=billable.pk)
    if billable.company_id is None:
        raise ApplicationError(_("This account is not enrolled in your company."))
    if billable.xml_enrolled == enabled:
        return billable
    billable.xml_enrolled = enabled
    billable.save(update_fields=["xml_enrolled"])
    audit_record(
        action=f"{_billable_kind(billable)}.xml_enrolment_changed",
        actor=actor,
        company=billable.company,
        target=billable,
        data={"xml_enrolled": enabled},
        ip_address=ip_address,
    )
    return billable


def billable_removal_blockers(billable) -> list[str]:
    """Why ``billable`` cannot leave its company now (empty when it can): the reasons the apps
    that depend on accounts registered (``accounts.registry.removal_blockers``)."""
    return removal_blockers.reasons(billable)


# Sent inside the transaction when an account or plan joins or leaves a company (``company_id``).
# Apps that cache figures per company listen (invoices/figures_cache.py, connected in
# ``InvoicesConfig.ready``): an account removed and added again within a cache's lifetime has
# the same scope as before, so only this tells them the figures may have changed meanwhile.
billable_company_changed = Signal()


@transaction.atomic
def billable_remove(*, actor, billable, ip_address: str | None = None) -> None:
    """Remove an account or plan from its company; refused while AutoPay or an open dispute
    depends on it. Users' assignments to it end with it."""
    model = type(billable)
    billable = model.objects.select_for_update().get(pk=billable.pk)
    company = billable.company
    if company is None:
        raise ApplicationError(_("This account is not enrolled in your company."))
    reasons = billable_removal_blockers(billable)
    if reasons:
        raise ApplicationError(" ".join(str(r) for r in reasons), code="removal_blocked")
    billable.memberships.clear()
    billable.invitations.clear()
    billable.company = None
    billable.save(update_fields=["company"])
    billable_company_changed.send(sender=model, company_id=company.id)
    audit_record(
        action=f"{_billable_kind(billable)}.removed",
        actor=actor,
        company=company,
        target=billable,
        ip_address=ip_address,
    )
