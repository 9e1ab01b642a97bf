"""Reads for accounts: every query is already scoped to what the user may see.

Scope rule (DESIGN.md, Roles): an Administrator sees every account and plan
of the company; Managers, Payers and Viewers see the accounts and plans
assigned to their membership. A user may belong to several companies; the
scope is the union. Anything else is invisible (views answer 404).
"""

from __future__ import annotations

import datetime

from django.db.models import Count, F, Prefetch, Q, QuerySet
from django.utils import timezone

from .models import AuditEvent, BillingPlan, Company, Invitation, Membership, Role, ShippingAccount


def membership_list(*, user) -> QuerySet[Membership]:
    if not getattr(user, "is_authenticated", False):
        return Membership.objects.none()
    return Membership.objects.filter(user=user).select_related("company")


def company_list_visible(*, user) -> QuerySet[Company]:
    if not getattr(user, "is_authenticated", False):
        return Company.objects.none()
    return Company.objects.filter(memberships__user=user).distinct()


def _admin_company_ids(user) -> QuerySet:
    return Membership.objects.filter(user=user, role=Role.ADMINISTRATOR).values("company_id")


def account_list_visible(*, user) -> QuerySet[ShippingAccount]:
    if not getattr(user, "is_authenticated", False):
        return ShippingAccount.objects.none()
    # An assignment counts only while the account belongs to the membership's company.
    assigned = Membership.accounts.through.objects.filter(
        membership__user=user, shippingaccount__company_id=F("membership__company_id")
    ).values("shippingaccount_id")
    return ShippingAccount.objects.filter(Q(company_id__in=_admin_company_ids(user)) | Q(id__in=assigned))


def plan_list_visible(*, user) -> QuerySet[BillingPlan]:
    if not getattr(user, "is_authenticated", False):
        return BillingPlan.objects.none()
    assigned = Membership.plans.through.objects.filter(
        membership__user=user, billingplan__company_id=F("membership__company_id")
    ).values("billingplan_id")
    return BillingPlan.objects.filter(Q(company_id__in=_admin_company_ids(user)) | Q(id__in=assigned))


def account_get_visible(*, user, number: str) -> ShippingAccount | None:
    return account_list_visible(user=user).filter(number=number).first()


def audit_event_list(*, company: Company) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(company=company).select_related("actor")


# --- Administration pages (issue 3) --------------------------------------------------------
# AutoPay schedules and disputes are reached by their reverse relations' names:
# accounts never imports payments or disputes.

LIVE_AUTOPAY = ~Q(autopay_schedules__status="cancelled") & Q(autopay_schedules__isnull=False)


def company_list_managed(*, user, roles=(Role.ADMINISTRATOR, Role.MANAGER)) -> QuerySet[Company]:
    """Companies where the user holds one of ``roles`` (default: may open the manage pages)."""
    if not getattr(user, "is_authenticated", False):
        return Company.objects.none()
    return Company.objects.filter(memberships__user=user, memberships__role__in=roles).order_by("name", "id")


def account_list_managed(*, user, company: Company) -> QuerySet[ShippingAccount]:
    """My Accounts: the company's accounts the user sees, with ``autopay_live`` counted."""
    return (
        account_list_visible(user=user)
        .filter(company=company)
        .select_related("plan")
        .annotate(autopay_live=Count("autopay_schedules", filter=LIVE_AUTOPAY, distinct=True))
        .order_by("number")
    )


def plan_list_managed(*, user, company: Company) -> QuerySet[BillingPlan]:
    """My Plans: the company's plans the user sees, their accounts and ``autopay_live``."""
    return (
        plan_list_visible(user=user)
        .filter(company=company)
        .annotate(autopay_live=Count("autopay_schedules", filter=LIVE_AUTOPAY, distinct=True))
        .prefetch_related(Prefetch("accounts", queryset=ShippingAccount.objects.order_by("number")))
        .order_by("number")
    )


def membership_list_company(*, company: Company) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(company=company)
        .select_related("user")
        .prefetch_related("accounts", "plans")
        .order_by("user__username")
    )


def invitation_list_pending(*, company: Company):
    """The company's open invitations (not accepted, not withdrawn), the expired ones included:
    the user-management page shows those as expired, to be sent again or withdrawn."""
    return (
        Invitation.objects.filter(company=company, accepted_at__isnull=True)
        .select_related("invited_by")
        .prefetch_related("accounts", "plans")
        .order_by("email")
    )


def invitation_list_expired_for(*, email: str) -> list[Invitation]:
    """Open invitations to ``email`` that expired: the person is told to ask for a new one."""
    return list(
        Invitation.objects.filter(email__iexact=email, accepted_at__isnull=True, expires_at__lte=timezone.now())
        .select_related("company")
        .order_by("id")
    )


def audit_event_list_filtered(
    *, company: Company, actor=None, action: str = "", date_from=None, date_to=None
) -> QuerySet[AuditEvent]:
    """The company's audit trail, newest first; dates are Asia/Seoul calendar days, inclusive."""
    events = audit_event_list(company=company)
    if actor is not None:
        events = events.filter(actor=actor)
    if action:
        events = events.filter(action=action)
    tz = timezone.get_current_timezone()
    if date_from:
        events = events.filter(created_at__gte=datetime.datetime.combine(date_from, datetime.time.min, tzinfo=tz))
    if date_to:
        events = events.filter(
            created_at__lt=datetime.datetime.combine(date_to + datetime.timedelta(days=1), datetime.time.min, tzinfo=tz)
        )
    return events


def audit_action_list(*, company: Company) -> list[str]:
    return list(
        AuditEvent.objects.filter(company=company).order_by("action").values_list("action", flat=True).distinct()
    )
