"""Reads for accounts: every query is already scoped to what the user may see.

Scope rule (DESIGN.md, Roles): an Administrator sees every account and plan
of the company; Managers, Payers and Viewers see the accounts and plans
assigned to their membership. A user may belong to several companies; the
scope is the union. Anything else is invisible (views answer 404).
"""

from __future__ import annotations

import datetime

from django.db.models import F, Prefetch, Q, QuerySet
from django.utils import timezone

from .models import AuditEvent, BillingPlan, Company, Invitation, Membership, Role, ShippingAccount, User
from .registry import billable_flags


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
# Facts other apps own (the AutoPay column) come from ``accounts.registry.billable_flags``,
# which they fill in their ``AppConfig.ready()``: accounts never queries their tables.


def company_list_managed(*, user, roles=(Role.ADMINISTRATOR, Role.MANAGER)) -> QuerySet[Company]:
    """Companies where the user holds one of ``roles`` (default: may open the manage pages)."""
    if not getattr(user, "is_authenticated", False):
        return Company.objects.none()
    return Company.objects.filter(memberships__user=user, memberships__role__in=roles).order_by("name", "id")


def account_list_managed(*, user, company: Company) -> list[ShippingAccount]:
    """My Accounts: the company's accounts the user sees, each with the registered flags
    (``autopay_live`` from payments); one query per registered provider."""
    accounts = account_list_visible(user=user).filter(company=company).select_related("plan").order_by("number")
    return billable_flags.apply(accounts)


def plan_list_managed(*, user, company: Company) -> list[BillingPlan]:
    """My Plans: the company's plans the user sees, their accounts and the registered flags."""
    plans = (
        plan_list_visible(user=user)
        .filter(company=company)
        .prefetch_related(Prefetch("accounts", queryset=ShippingAccount.objects.order_by("number")))
        .order_by("number")
    )
    return billable_flags.apply(plans)


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


# --- One row for a manage page (the views build no queries) ----------------------------------


def billable_get_visible(*, user, model: type[ShippingAccount] | type[BillingPlan], number: str):
    """The account (or plan, by ``model``) numbered ``number`` that the user sees, with its company;
    None when it is not visible."""
    visible = plan_list_visible(user=user) if model is BillingPlan else account_list_visible(user=user)
    return visible.select_related("company").filter(number=number).first()


def billable_get(*, model: type[ShippingAccount] | type[BillingPlan], pk) -> ShippingAccount | BillingPlan | None:
    """An account or plan by id, with its company (the enrolment's access request), or None."""
    return model.objects.select_related("company").filter(pk=pk).first()


def membership_get(*, pk: int) -> Membership | None:
    """A membership with its user, company and scope; the caller checks the actor may manage it."""
    return (
        Membership.objects.select_related("user", "company").prefetch_related("accounts", "plans").filter(pk=pk).first()
    )


def invitation_get_open(*, pk: int) -> Invitation | None:
    """An invitation not accepted nor withdrawn (expired ones included), with its company."""
    return Invitation.objects.select_related("company").filter(pk=pk, accepted_at__isnull=True).first()


def user_list_company(*, company: Company) -> QuerySet[User]:
    """The company's members, by user ID (the activity page's user filter)."""
    return User.objects.filter(memberships__company=company).order_by("username")
