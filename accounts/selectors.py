"""Reads for accounts: every query is already scoped to what the user may see.

Scope rule (DESIGN.md, Roles): an Administrator sees every account and plan
of the company; Managers, Payers and Viewers see the accounts and plans
assigned to their membership. A user may belong to several companies; the
scope is the union. Anything else is invisible (views answer 404).
"""

from __future__ import annotations

from django.db.models import F, Q, QuerySet

from .models import AuditEvent, BillingPlan, Company, Membership, Role, ShippingAccount


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
    return ShippingAccount.objects.filter(
        Q(company_id__in=_admin_company_ids(user)) | Q(id__in=assigned)
    )


def plan_list_visible(*, user) -> QuerySet[BillingPlan]:
    if not getattr(user, "is_authenticated", False):
        return BillingPlan.objects.none()
    assigned = Membership.plans.through.objects.filter(
        membership__user=user, billingplan__company_id=F("membership__company_id")
    ).values("billingplan_id")
    return BillingPlan.objects.filter(
        Q(company_id__in=_admin_company_ids(user)) | Q(id__in=assigned)
    )


def account_get_visible(*, user, number: str) -> ShippingAccount | None:
    return account_list_visible(user=user).filter(number=number).first()


def audit_event_list(*, company: Company) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(company=company).select_related("actor")
