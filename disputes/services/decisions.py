"""The decision on a dispute and its credit outcome: approving (in full or in part) posts a credit
adjustment line through the invoices service; rejecting needs a reason for the customer."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from core.money import format_money, quantize
from invoices.services import invoice_adjustment_post

from ..models import Dispute, DisputeMessage, DisputeStatus
from .rules import DisputeRefused, dispute_needs_supervisor, dispute_supervisor_threshold
from .workflow import dispute_lock, dispute_transition_locked


class Decision:
    APPROVE = "approve"
    PARTIAL = "partial"
    REJECT = "reject"
    CHOICES = (APPROVE, PARTIAL, REJECT)


@transaction.atomic
def dispute_decide(
    *, dispute: Dispute, decision: str, amount: Decimal | None = None, reason: str = "", reply: str = "", actor
) -> Dispute:
    """Decide a dispute. Approving (in full or in part) posts a credit adjustment line to the invoice.

    If the invoice is already paid the credit leaves a negative balance (status ``credit``):
    that is the account's credit balance, which the next payment uses first. A credit above
    ``DISPUTE_SUPERVISOR_THRESHOLD`` needs the ``disputes.decide_large_dispute`` permission.
    """
    locked = dispute_lock(dispute)
    if locked.status == DisputeStatus.SUBMITTED:
        dispute_transition_locked(locked, to_status=DisputeStatus.UNDER_REVIEW, actor=actor, notify=False)
    if locked.status != DisputeStatus.UNDER_REVIEW:
        raise DisputeRefused(_("Only an open dispute can be decided."), code="not_open")
    currency = locked.invoice.currency
    reason = (reason or "").strip()
    if decision == Decision.APPROVE:
        credit = quantize(locked.disputed_amount, currency)
        to_status = DisputeStatus.APPROVED
    elif decision == Decision.PARTIAL:
        if amount is None:
            raise DisputeRefused(_("Enter the credit to grant."), field="amount")
        credit = quantize(amount, currency)
        if credit <= 0:
            raise DisputeRefused(_("The credit must be more than zero."), field="amount")
        if credit >= locked.disputed_amount:
            raise DisputeRefused(
                _("A partial credit must be less than the disputed amount (%(amount)s); approve in full instead.")
                % {"amount": format_money(locked.disputed_amount, currency)},
                field="amount",
            )
        to_status = DisputeStatus.PARTLY_APPROVED
    elif decision == Decision.REJECT:
        if not reason:
            raise DisputeRefused(_("Give the customer the reason for the rejection."), field="reason")
        credit = Decimal(0)
        to_status = DisputeStatus.REJECTED
    else:
        raise DisputeRefused(_("Choose a decision."), field="decision")
    if dispute_needs_supervisor(currency=currency, credit=credit) and not actor.has_perm(
        "disputes.decide_large_dispute"
    ):
        raise DisputeRefused(
            _("A credit above %(limit)s needs a supervisor's decision.")
            % {"limit": format_money(dispute_supervisor_threshold(currency), currency)},
            field="amount" if decision == Decision.PARTIAL else "decision",
            code="needs_supervisor",
        )

    if credit > 0:
        locked.credit_line = invoice_adjustment_post(
            invoice=locked.invoice,
            amount=-credit,
            description=_("Dispute %(reference)s credit") % {"reference": locked.reference},
            actor=actor,
            data={"dispute": locked.reference},
        )
    locked.credit_granted = credit
    locked.decision_reason = reason
    locked.decided_by = actor
    locked.decided_at = timezone.now()
    locked.save(update_fields=["credit_granted", "decision_reason", "decided_by", "decided_at", "credit_line"])
    audit_record(
        action="dispute.decided",
        actor=actor,
        company=locked.company,
        target=locked,
        data={"decision": decision, "credit": str(credit), "currency": currency, "invoice": locked.invoice.number},
    )
    message_id = None
    if reply.strip():
        message_id = DisputeMessage.objects.create(dispute=locked, author=actor, body=reply.strip(), internal=False).pk
    dispute_transition_locked(locked, to_status=to_status, actor=actor, message_id=message_id)
    return locked
