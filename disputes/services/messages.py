"""Messages on a dispute: the filer's and billing staff's replies, and staff-only internal notes."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.audit import audit_record

from ..models import Dispute, DisputeMessage, DisputeStatus
from .notifications import dispute_notify
from .rules import DisputeRefused
from .workflow import dispute_lock


@transaction.atomic
def dispute_message_post(
    *, dispute: Dispute, author, body: str, internal: bool = False, staff: bool = False
) -> DisputeMessage:
    """A message on a dispute. Staff replies e-mail the filer; internal notes are staff-only."""
    body = (body or "").strip()
    if not body:
        raise DisputeRefused(_("Write a message."), field="body")
    if internal and not staff:
        raise DisputeRefused(_("Only billing staff can write internal notes."))
    locked = dispute_lock(dispute)
    if not staff and locked.status == DisputeStatus.CLOSED:
        raise DisputeRefused(_("This dispute is closed. File a new dispute if needed."), field="body")
    message = DisputeMessage.objects.create(dispute=locked, author=author, body=body, internal=internal)
    audit_record(
        action="dispute.note_added" if internal else "dispute.message_posted",
        actor=author,
        company=locked.company,
        target=locked,
        data={"message": message.pk, "staff": staff},
    )
    if staff and not internal:
        dispute_notify(dispute_id=locked.pk, kind="reply", message_id=message.pk)
    return message
