"""Transfer of a company's administrator rights by billing staff (R31)."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from core.exceptions import ApplicationError

from ..audit import audit_record
from ..models import Company, Membership, Role, User
from .emails import mail_queue
from .memberships import administrators_lock

PREVIOUS_OUTCOMES = ("manager", "payer", "viewer", "remove")


@transaction.atomic
def administrator_transfer(
    *,
    company: Company,
    previous_username: str,
    previous_email: str,
    new_username: str,
    new_email: str,
    previous_outcome: str,
    actor,
) -> Membership:
    """Billing staff hand a company's administrator rights to another user (R31).

    Both user ID/e-mail pairs must belong to registered users and the previous user
    must administer the company. The new user becomes Administrator (joining the
    company if needed); the previous one keeps the role ``previous_outcome``
    (``manager``, ``payer`` or ``viewer``, over every account and plan of the
    company) or is removed (``remove``). Both are e-mailed; the staff member is
    the audit actor.
    """
    if previous_outcome not in PREVIOUS_OUTCOMES:
        raise ApplicationError(_("Choose what happens to the previous Administrator."), field="previous_outcome")
    previous = User.objects.filter(
        username__iexact=previous_username.strip(), email__iexact=previous_email.strip()
    ).first()
    if previous is None:
        raise ApplicationError(
            _("The previous Administrator's user ID and e-mail do not belong to one registered user."),
            field="previous_username",
        )
    new = User.objects.filter(
        username__iexact=new_username.strip(), email__iexact=new_email.strip(), is_active=True
    ).first()
    if new is None:
        raise ApplicationError(
            _("The new Administrator's user ID and e-mail do not belong to one registered user."),
            field="new_username",
        )
    if new.pk == previous.pk:
        raise ApplicationError(_("The previous and new Administrators must be different users."), field="new_username")
    administrators_lock(company)
    old_membership = (
        Membership.objects.select_for_update().filter(company=company, user=previous, role=Role.ADMINISTRATOR).first()
    )
    if old_membership is None:
        raise ApplicationError(
            _("The previous user is not an Administrator of this company."), field="previous_username"
        )
    new_membership = Membership.objects.select_for_update().filter(company=company, user=new).first()
    if new_membership is None:
        new_membership = Membership.objects.create(user=new, company=company, role=Role.ADMINISTRATOR)
    else:
        new_membership.role = Role.ADMINISTRATOR
        new_membership.save(update_fields=["role"])
        new_membership.accounts.clear()
        new_membership.plans.clear()
    if previous_outcome == "remove":
        old_membership.delete()
    else:
        old_membership.role = previous_outcome
        old_membership.save(update_fields=["role"])
        old_membership.accounts.set(company.shippingaccounts.all())
        old_membership.plans.set(company.billingplans.all())
    audit_record(
        action="administrator.transferred",
        actor=actor,
        company=company,
        target=new,
        data={
            "previous": previous.get_username(),
            "new": new.get_username(),
            "previous_outcome": previous_outcome,
            "staff": actor.get_username() if actor is not None else "",
        },
    )
    context = {
        "company": company,
        "previous": previous,
        "new": new,
        "previous_outcome": previous_outcome,
        "previous_role": Role(previous_outcome).label if previous_outcome != "remove" else "",
    }
    mail_queue(template="transfer_new", recipients=[new.email], context=context)
    mail_queue(template="transfer_previous", recipients=[previous.email], context=context)
    return new_membership
