"""The staff workflow: the one way a dispute changes status, assignment, closing, withdrawal.

The dispute row is the owning row: it is locked first (``dispute_lock``); any invoice after it,
through ``invoices.locks``. The status moves along ``models.DISPUTE_TRANSITIONS`` through
``core.transitions.transition``; each change is recorded (``DisputeEvent``), audited and e-mailed.
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.access import Action, user_can
from accounts.audit import audit_record
from core.transitions import transition

from ..models import DISPUTE_TRANSITIONS, Dispute, DisputeEvent, DisputeStatus
from .notifications import dispute_notify
from .rules import DisputeRefused, dispute_target


def _transition_refused(current: str, to: str) -> DisputeRefused:
    return DisputeRefused(
        _("A dispute that is %(current)s cannot become %(new)s.")
        % {"current": DisputeStatus(current).label, "new": DisputeStatus(to).label},
        code="bad_transition",
    )


def dispute_lock(dispute: Dispute) -> Dispute:
    return Dispute.objects.select_for_update(of=("self",)).select_related("invoice", "company").get(pk=dispute.pk)


def dispute_transition_locked(
    locked: Dispute, *, to_status: str, actor, notify: bool = True, message_id: int | None = None
) -> Dispute:
    previous = transition(locked, to_status, table=DISPUTE_TRANSITIONS, refused=_transition_refused)
    locked.save(update_fields=["status"])
    DisputeEvent.objects.create(dispute=locked, from_status=previous, to_status=to_status, actor=actor)
    audit_record(
        action="dispute.status_changed",
        actor=actor,
        company=locked.company,
        target=locked,
        data={"from": previous, "to": to_status},
    )
    if notify:
        dispute_notify(dispute_id=locked.pk, kind="status", message_id=message_id)
    return locked


@transaction.atomic
def dispute_transition(*, dispute: Dispute, to_status: str, actor, notify: bool = True) -> Dispute:
    """The one way a dispute changes status: checked against the table, locked, recorded, e-mailed."""
    locked = dispute_transition_locked(dispute_lock(dispute), to_status=to_status, actor=actor, notify=notify)
    dispute.status = locked.status
    return locked


@transaction.atomic
def dispute_assign(*, dispute: Dispute, assignee, actor) -> Dispute:
    """Give the dispute to a staff member; a submitted dispute goes under review."""
    if assignee is not None and not assignee.is_staff:
        raise DisputeRefused(_("Disputes can only be assigned to billing staff."), field="assignee")
    locked = dispute_lock(dispute)
    previous = locked.assignee_id
    locked.assignee = assignee
    locked.save(update_fields=["assignee"])
    audit_record(
        action="dispute.assigned",
        actor=actor,
        company=locked.company,
        target=locked,
        data={"from": previous, "to": assignee.pk if assignee else None, "to_label": str(assignee or "")},
    )
    if assignee is not None and locked.status == DisputeStatus.SUBMITTED:
        dispute_transition_locked(locked, to_status=DisputeStatus.UNDER_REVIEW, actor=actor)
    dispute.assignee = assignee
    dispute.status = locked.status
    return locked


@transaction.atomic
def dispute_close(*, dispute: Dispute, actor) -> Dispute:
    return dispute_transition(dispute=dispute, to_status=DisputeStatus.CLOSED, actor=actor)


@transaction.atomic
def dispute_withdraw(*, dispute: Dispute, actor) -> Dispute:
    """The customer withdraws an open dispute: it closes with no credit."""
    if not dispute.is_open:
        raise DisputeRefused(_("Only an open dispute can be withdrawn."), code="not_open")
    if not user_can(actor, Action.DISPUTE, **dispute_target(dispute.invoice)):
        raise DisputeRefused(_("You may not withdraw this dispute."))
    locked = dispute_lock(dispute)
    audit_record(action="dispute.withdrawn", actor=actor, company=locked.company, target=locked)
    return dispute_transition_locked(locked, to_status=DisputeStatus.CLOSED, actor=actor)
