"""Invitations by e-mail: create, withdraw, send again, and accept once the address is verified."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.exceptions import ApplicationError

from ..audit import audit_record
from ..models import Company, Invitation, Membership, Role, invitation_expiry
from .emails import mail_queue
from .memberships import grant_check, manager_scope, scope_data


@transaction.atomic
def invitation_create(
    *, actor, company: Company, email: str, role: str, accounts=(), plans=(), ip_address: str | None = None
) -> Invitation:
    """Invite a person by e-mail; they join on sign-up (or next log-in) once the address is
    verified. The answer is the same whether or not the address is registered."""
    scope = manager_scope(actor=actor, company=company)
    accounts, plans = list(accounts), list(plans)
    grant_check(scope=scope, company=company, role=role, accounts=accounts, plans=plans)
    email = email.strip()
    if Membership.objects.filter(company=company, user__email__iexact=email).exists():
        raise ApplicationError(_("This person is already a member of the company."), field="email")
    Invitation.objects.filter(company=company, email__iexact=email, accepted_at__isnull=True).delete()
    invitation = Invitation.objects.create(
        company=company, email=email, role=role, invited_by=actor, expires_at=invitation_expiry()
    )
    if role != Role.ADMINISTRATOR:
        invitation.accounts.set(accounts)
        invitation.plans.set(plans)
    audit_record(
        action="invitation.created",
        actor=actor,
        company=company,
        target=invitation,
        data={"email": email, **scope_data(role, accounts, plans)},
        ip_address=ip_address,
    )
    mail_queue(
        template="invitation",
        recipients=[email],
        context={
            "company": company,
            "role": Role(role).label,
            "actor": actor,
            "email": email,
            "expires": invitation.expires_at,
        },
    )
    return invitation


@transaction.atomic
def invitation_cancel(*, actor, invitation: Invitation, ip_address: str | None = None) -> None:
    """Withdraw a pending invitation; Managers only those within their accounts and plans."""
    company = invitation.company
    scope = manager_scope(actor=actor, company=company)
    invitation = _invitation_lock_open(invitation)
    if not scope.may_handle_invitation(invitation):
        raise ApplicationError(_("You may not withdraw this invitation."), code="forbidden")
    audit_record(
        action="invitation.cancelled",
        actor=actor,
        company=company,
        target=invitation,
        data={"email": invitation.email, "role": invitation.role},
        ip_address=ip_address,
    )
    invitation.delete()


def _invitation_lock_open(invitation: Invitation) -> Invitation:
    """The invitation locked, if still open (not accepted, not withdrawn); expired ones are open."""
    locked = Invitation.objects.select_for_update().filter(pk=invitation.pk, accepted_at__isnull=True).first()
    if locked is None:
        raise ApplicationError(_("This invitation was already accepted or withdrawn."))
    return locked


@transaction.atomic
def invitation_resend(*, actor, invitation: Invitation, ip_address: str | None = None) -> Invitation:
    """Send a new invitation (new expiry) in place of an open one, expired or not, with the same
    role and scope; the old one is replaced. Who may withdraw an invitation may send it again."""
    company = invitation.company
    scope = manager_scope(actor=actor, company=company)
    invitation = _invitation_lock_open(invitation)
    if not scope.may_handle_invitation(invitation):
        raise ApplicationError(_("You may not send this invitation again."), code="forbidden")
    return invitation_create(
        actor=actor,
        company=company,
        email=invitation.email,
        role=invitation.role,
        accounts=invitation.accounts.filter(company=company),
        plans=invitation.plans.filter(company=company),
        ip_address=ip_address,
    )


@transaction.atomic
def invitation_accept_pending(*, user, email: str) -> list[Membership]:
    """Turn the pending invitations for a verified ``email`` of ``user`` into memberships.

    Each invitation is used once (``accepted_at``) and only before ``expires_at``; expired ones
    stay open so their administrators see them as expired (selectors.invitation_list_expired_for).
    """
    created = []
    pending = (
        Invitation.objects.select_for_update()
        .filter(email__iexact=email, accepted_at__isnull=True, expires_at__gt=timezone.now())
        .select_related("company")
        .order_by("id")
    )
    for invitation in pending:
        membership, made = Membership.objects.get_or_create(
            user=user, company=invitation.company, defaults={"role": invitation.role}
        )
        if made and invitation.role != Role.ADMINISTRATOR:
            membership.accounts.set(invitation.accounts.filter(company=invitation.company))
            membership.plans.set(invitation.plans.filter(company=invitation.company))
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        audit_record(
            action="invitation.accepted",
            actor=user,
            company=invitation.company,
            target=user,
            data={"email": invitation.email, "role": invitation.role, "joined": made},
        )
        if made:
            created.append(membership)
    return created
