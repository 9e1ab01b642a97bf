"""The one place that decides what a user may do.

``user_can`` answers whether the user's role allows an action on an account,
a plan or a company. Views call ``require`` which turns a refusal into 404
(outside the user's scope: never reveal that the object exists) or 403 (in
scope, but the role does not allow the action).
"""

from __future__ import annotations

from enum import StrEnum

from django.core.exceptions import PermissionDenied
from django.db.models import Subquery
from django.http import Http404

from .models import BillingPlan, Company, Membership, Role, ShippingAccount


class Action(StrEnum):
    VIEW = "view"  # see invoices, shipments, figures
    DOWNLOAD = "download"  # PDF, CSV, XML, ZIP
    PAY = "pay"  # one-time payment
    DISPUTE = "dispute"
    WALLET = "wallet"  # manage payment methods
    AUTOPAY = "autopay"  # set up and change AutoPay
    MANAGE_USERS = "manage_users"  # add, edit, remove users (Managers: within their scope)
    MANAGE_ACCOUNTS = "manage_accounts"  # add/remove accounts and plans, XML enrolment
    VIEW_ACTIVITY = "view_activity"  # the company's audit trail
    GRANT_ADMINISTRATOR = "grant_administrator"


ROLE_ACTIONS: dict[str, frozenset[Action]] = {
    Role.ADMINISTRATOR: frozenset(Action),
    Role.MANAGER: frozenset(
        {
            Action.VIEW,
            Action.DOWNLOAD,
            Action.PAY,
            Action.DISPUTE,
            Action.WALLET,
            Action.AUTOPAY,
            Action.MANAGE_USERS,
        }
    ),
    Role.PAYER: frozenset({Action.VIEW, Action.DOWNLOAD, Action.PAY, Action.DISPUTE, Action.WALLET}),
    Role.VIEWER: frozenset({Action.VIEW, Action.DOWNLOAD}),
}


def role_allows(role: str, action: Action) -> bool:
    return action in ROLE_ACTIONS.get(role, frozenset())


def _memberships(user) -> dict[int, Membership]:
    """The user's memberships by company id, cached on the user object for the request."""
    cached = getattr(user, "_bc_memberships", None)
    if cached is None:
        cached = {m.company_id: m for m in Membership.objects.filter(user=user).prefetch_related("accounts", "plans")}
        user._bc_memberships = cached
    return cached


def company_ids_of(user) -> list[int]:
    """The ids of the companies the user belongs to (the request's cached memberships)."""
    if not getattr(user, "is_authenticated", False):
        return []
    return list(_memberships(user))


def roles_of(user) -> frozenset[str]:
    """The roles the user holds in any company (the request's cached memberships)."""
    if not getattr(user, "is_authenticated", False):
        return frozenset()
    return frozenset(membership.role for membership in _memberships(user).values())


def role_subquery(user, company_id) -> Subquery:
    """The user's role in the company ``company_id`` (an expression such as ``OuterRef(...)``),
    to annotate rows a scoped selector already found: for such a row, ``role_allows`` on it
    answers what ``require`` answers, in the same query (the scope holds the account or plan,
    so the membership of its company decides the role)."""
    return Subquery(Membership.objects.filter(user=user, company_id=company_id).order_by().values("role")[:1])


def role_for(user, *, account=None, plan=None, company=None) -> str | None:
    """The user's role over the object, or None when it is outside the user's scope."""
    if not getattr(user, "is_authenticated", False):
        return None
    target = account or plan
    company_id = target.company_id if target is not None else getattr(company, "id", None)
    if company_id is None:
        return None
    membership = _memberships(user).get(company_id)
    if membership is None:
        return None
    if membership.role == Role.ADMINISTRATOR or target is None:
        return membership.role
    if isinstance(target, ShippingAccount):
        in_scope = any(a.id == target.id for a in membership.accounts.all())
    elif isinstance(target, BillingPlan):
        in_scope = any(p.id == target.id for p in membership.plans.all())
    else:  # pragma: no cover - programming error
        raise TypeError(f"not an account or plan: {target!r}")
    return membership.role if in_scope else None


def user_can(user, action: Action, *, account=None, plan=None, company: Company | None = None) -> bool:
    role = role_for(user, account=account, plan=plan, company=company)
    return role is not None and role_allows(role, action)


def require(user, action: Action, *, account=None, plan=None, company: Company | None = None) -> str:
    """Return the user's role, or raise 404 outside scope and 403 where the role forbids."""
    role = role_for(user, account=account, plan=plan, company=company)
    if role is None:
        raise Http404
    if not role_allows(role, action):
        raise PermissionDenied
    return role
