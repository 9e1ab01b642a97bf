"""Users and roles (R28-R30): the manager's scope, adding, changing and removing members."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from core.exceptions import ApplicationError

from ..audit import audit_record
from ..models import Company, Membership, Role, User
from .emails import mail_queue


@dataclass(frozen=True)
class ManagerScope:
    """What the acting user may manage in a company: everything for Administrators,
    only users within their accounts and plans for Managers."""

    role: str
    account_ids: frozenset[int]
    plan_ids: frozenset[int]

    @property
    def is_administrator(self) -> bool:
        return self.role == Role.ADMINISTRATOR

    def covers(self, *, account_ids, plan_ids) -> bool:
        if self.is_administrator:
            return True
        account_ids, plan_ids = set(account_ids), set(plan_ids)
        if not account_ids and not plan_ids:
            return False
        return account_ids <= self.account_ids and plan_ids <= self.plan_ids

    def may_manage(self, membership: Membership, *, actor) -> bool:
        if self.is_administrator:
            return True
        if membership.user_id == actor.id or membership.role == Role.ADMINISTRATOR:
            return False
        return self.covers(
            account_ids=[a.id for a in membership.accounts.all()],
            plan_ids=[p.id for p in membership.plans.all()],
        )

    def may_handle_invitation(self, invitation) -> bool:
        """Administrators handle every invitation; Managers those within their accounts and plans."""
        return self.is_administrator or (
            invitation.role != Role.ADMINISTRATOR
            and self.covers(
                account_ids=[a.id for a in invitation.accounts.all()],
                plan_ids=[p.id for p in invitation.plans.all()],
            )
        )


def manager_scope(*, actor, company: Company) -> ManagerScope:
    """The actor's management scope in the company, or ApplicationError if they have none."""
    membership = Membership.objects.filter(user=actor, company=company).prefetch_related("accounts", "plans").first()
    if membership is None or membership.role not in (Role.ADMINISTRATOR, Role.MANAGER):
        raise ApplicationError(_("You may not manage users of this company."), code="forbidden")
    if membership.role == Role.ADMINISTRATOR:
        return ManagerScope(role=membership.role, account_ids=frozenset(), plan_ids=frozenset())
    return ManagerScope(
        role=membership.role,
        account_ids=frozenset(a.id for a in membership.accounts.all() if a.company_id == company.id),
        plan_ids=frozenset(p.id for p in membership.plans.all() if p.company_id == company.id),
    )


def grant_check(*, scope: ManagerScope, company, role, accounts, plans) -> None:
    if role not in Role.values:
        raise ApplicationError(_("Choose a role."), field="role")
    if role == Role.ADMINISTRATOR and not scope.is_administrator:
        raise ApplicationError(_("Only an Administrator can grant the Administrator role."), field="role")
    if any(a.company_id != company.id for a in accounts) or any(p.company_id != company.id for p in plans):
        raise ApplicationError(_("Choose accounts and plans of this company."), field="accounts")
    if role != Role.ADMINISTRATOR and not accounts and not plans:
        raise ApplicationError(_("Choose at least one account or plan for this role."), field="accounts")
    if not scope.covers(account_ids=[a.id for a in accounts], plan_ids=[p.id for p in plans]):
        raise ApplicationError(_("You can assign only the accounts and plans you manage."), field="accounts")


def administrators_lock(company: Company) -> list[Membership]:
    """Lock the company's Administrator memberships (always in id order) and return them."""
    return list(Membership.objects.select_for_update().filter(company=company, role=Role.ADMINISTRATOR).order_by("id"))


def scope_data(role, accounts, plans) -> dict[str, Any]:
    return {
        "role": str(role),
        "accounts": sorted(a.number for a in accounts),
        "plans": sorted(p.number for p in plans),
    }


@transaction.atomic
def membership_add(
    *,
    actor,
    company: Company,
    username: str,
    email: str,
    role: str,
    accounts=(),
    plans=(),
    ip_address: str | None = None,
) -> Membership:
    """Add a registered user to the company (R29). The user ID and e-mail must belong to
    the same user; the message does not say which one was wrong."""
    scope = manager_scope(actor=actor, company=company)
    accounts, plans = list(accounts), list(plans)
    user = User.objects.filter(username__iexact=username.strip(), email__iexact=email.strip(), is_active=True).first()
    if user is None:
        raise ApplicationError(
            _(
                "No registered user has this user ID with this e-mail address. Check both, or "
                "invite the person by e-mail."
            ),
            field="username",
        )
    grant_check(scope=scope, company=company, role=role, accounts=accounts, plans=plans)
    if Membership.objects.filter(user=user, company=company).exists():
        raise ApplicationError(_("This user is already a member of the company."), field="username")
    membership = Membership.objects.create(user=user, company=company, role=role)
    if role != Role.ADMINISTRATOR:
        membership.accounts.set(accounts)
        membership.plans.set(plans)
    audit_record(
        action="membership.added",
        actor=actor,
        company=company,
        target=user,
        data=scope_data(role, accounts, plans),
        ip_address=ip_address,
    )
    mail_queue(
        template="membership_added",
        recipients=[user.email],
        context={"user": user, "company": company, "role": Role(role).label, "actor": actor},
    )
    return membership


@transaction.atomic
def membership_update(
    *, actor, membership: Membership, role: str, accounts=(), plans=(), ip_address: str | None = None
) -> Membership:
    """Change a member's role and scope; the last Administrator cannot be demoted (R30)."""
    company = membership.company
    scope = manager_scope(actor=actor, company=company)
    admins = administrators_lock(company)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if not scope.may_manage(membership, actor=actor):
        raise ApplicationError(_("You may not change this user."), code="forbidden")
    accounts, plans = list(accounts), list(plans)
    grant_check(scope=scope, company=company, role=role, accounts=accounts, plans=plans)
    if membership.role == Role.ADMINISTRATOR and role != Role.ADMINISTRATOR and len(admins) <= 1:
        raise ApplicationError(
            _("The last Administrator cannot be demoted. Add another Administrator first."),
            field="role",
            code="last_administrator",
        )
    before = scope_data(membership.role, membership.accounts.all(), membership.plans.all())
    membership.role = role
    membership.save(update_fields=["role"])
    if role == Role.ADMINISTRATOR:
        membership.accounts.clear()
        membership.plans.clear()
    else:
        membership.accounts.set(accounts)
        membership.plans.set(plans)
    audit_record(
        action="membership.updated",
        actor=actor,
        company=company,
        target=membership.user,
        data={"before": before, "after": scope_data(role, accounts, plans)},
        ip_address=ip_address,
    )
    return membership


@transaction.atomic
def membership_remove(*, actor, membership: Membership, ip_address: str | None = None) -> None:
    """Remove a user from the company; never the last Administrator (R30)."""
    company = membership.company
    scope = manager_scope(actor=actor, company=company)
    admins = administrators_lock(company)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if not scope.may_manage(membership, actor=actor):
        raise ApplicationError(_("You may not remove this user."), code="forbidden")
    if membership.role == Role.ADMINISTRATOR and len(admins) <= 1:
        raise ApplicationError(
            _("The last Administrator cannot be removed. Add another Administrator first."),
            code="last_administrator",
        )
    user = membership.user
    data = scope_data(membership.role, membership.accounts.all(), membership.plans.all())
    membership.delete()
    audit_record(
        action="membership.removed", actor=actor, company=company, target=user, data=data, ip_address=ip_address
    )
