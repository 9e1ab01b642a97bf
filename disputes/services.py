"""Writes for disputes: filing, the staff workflow, decisions and messages.

Every function is one use case: keyword-only arguments, one transaction, an audit
event with the person who acted, e-mails scheduled with ``transaction.on_commit``.
Status changes go through ``dispute_transition`` only (the table is
``models.DISPUTE_TRANSITIONS``); rows are locked dispute first, then invoice.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import default_storage
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

from accounts.access import Action, user_can
from accounts.services import audit_record
from core.exceptions import ApplicationError
from core.money import format_money, quantize
from invoices.models import Invoice, InvoiceLine
from invoices.services import invoice_adjustment_post

from .models import (
    DISPUTE_TRANSITIONS,
    OPEN_DISPUTE_STATUSES,
    Dispute,
    DisputeAttachment,
    DisputeEvent,
    DisputeItem,
    DisputeMessage,
    DisputeReason,
    DisputeStatus,
)

logger = logging.getLogger(__name__)

MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
MAX_ATTACHMENTS = 5
# File signatures (magic bytes): the type is decided from the content, never from the
# name or the browser's claim. (signature, content type, extension)
ATTACHMENT_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF-", "application/pdf", "pdf"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
)


class DisputeRefused(ApplicationError):
    pass


@dataclass(frozen=True)
class DisputeItemInput:
    """One charge to dispute: an invoice line, or the whole invoice when ``line_id`` is None."""

    line_id: int | None
    reason: str
    amount: Decimal
    # The form field the error belongs next to (``line_<id>_amount`` …), for the view.
    field_prefix: str = ""


@dataclass(frozen=True)
class _CheckedFile:
    upload: object
    content_type: str
    extension: str
    size: int
    # The download name: the uploaded name cleaned, with the extension of the sniffed type.
    name: str


# --- Rules shared with views ----------------------------------------------------------------


def dispute_online_refusal(invoice: Invoice) -> str | None:
    """Why the invoice cannot be disputed online (R21): ``"paper"``, ``"temporary"`` or None."""
    if invoice.account_id and invoice.account.is_temporary:
        return "temporary"
    billable = invoice.billable
    if billable is not None and not billable.is_paperless:
        return "paper"
    return None


def dispute_supervisor_threshold(currency: str) -> Decimal | None:
    limits = getattr(settings, "DISPUTE_SUPERVISOR_THRESHOLD", {}) or {}
    value = limits.get(currency)
    return None if value is None else Decimal(value)


def dispute_needs_supervisor(*, currency: str, credit: Decimal) -> bool:
    threshold = dispute_supervisor_threshold(currency)
    return threshold is not None and credit > threshold


def attachment_sniff(head: bytes) -> tuple[str, str] | None:
    """(content type, extension) from a file's first bytes, or None when it is not PDF/JPEG/PNG."""
    for signature, content_type, extension in ATTACHMENT_SIGNATURES:
        if head.startswith(signature):
            return content_type, extension
    return None


def _check_attachments(files: Sequence) -> list[_CheckedFile]:
    files = [f for f in files if f]
    if len(files) > MAX_ATTACHMENTS:
        raise DisputeRefused(_("Attach at most %(count)d files.") % {"count": MAX_ATTACHMENTS}, field="attachments")
    checked = []
    for upload in files:
        name = getattr(upload, "name", "") or ""
        size = getattr(upload, "size", None) or 0
        if size > MAX_ATTACHMENT_BYTES:
            raise DisputeRefused(
                _("%(name)s is larger than 5 MB. Attach a smaller file.") % {"name": name},
                field="attachments",
            )
        if size == 0:
            raise DisputeRefused(_("%(name)s is empty.") % {"name": name}, field="attachments")
        upload.seek(0)
        sniffed = attachment_sniff(upload.read(16))
        upload.seek(0)
        if sniffed is None:
            raise DisputeRefused(
                _("%(name)s is not a PDF, JPEG or PNG file. Only these types can be attached.") % {"name": name},
                field="attachments",
            )
        checked.append(
            _CheckedFile(
                upload=upload,
                content_type=sniffed[0],
                extension=sniffed[1],
                size=size,
                name=attachment_name(name, sniffed[1]),
            )
        )
    return checked


def attachment_name(uploaded: str, extension: str) -> str:
    """The name offered back on download: the uploaded name's stem, cleaned, plus ``extension``.

    Never fails: a name that cleans to nothing (``!!!``, ``...``, spaces, only characters that
    are not letters or digits) becomes ``attachment.<extension>``, friendlier than refusing the
    file. (``get_valid_filename`` raises ``SuspiciousFileOperation`` for those, a bare 400.)
    """
    stem = Path(str(uploaded).replace("\\", "/")).name.rsplit(".", 1)[0]  # our extension replaces any
    try:
        stem = get_valid_filename(stem)
    except SuspiciousFileOperation:
        stem = ""
    stem = stem.strip("._-")[:100].rstrip("._-")
    if not any(char.isalnum() for char in stem):
        stem = "attachment"
    return f"{stem}.{extension}"


@contextmanager
def _files_removed_on_failure() -> Iterator[list[str]]:
    """Collect the storage names written inside; delete them if anything fails before the block
    ends, commit included. Services that store files open their transaction inside this block,
    so a refused request or a database error leaves no file without its row."""
    written: list[str] = []
    try:
        yield written
    except BaseException:
        for name in written:
            try:
                default_storage.delete(name)
            except Exception:  # noqa: BLE001 - the original error matters more
                logger.exception("could not remove attachment %s after a failed request", name)
        raise


def _store_file(checked: _CheckedFile, written: list[str]) -> str:
    """Store the upload through the storage API (a private folder, or object storage) under a
    random name; return the storage name, also recorded in ``written`` for clean-up."""
    checked.upload.seek(0)
    name = default_storage.save(
        f"disputes/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.{checked.extension}", checked.upload
    )
    written.append(name)
    return name


def _new_reference() -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    for _attempt in range(10):
        reference = "D" + timezone.localdate().strftime("%y%m") + "".join(secrets.choice(alphabet) for _ in range(7))
        if not Dispute.objects.filter(reference=reference).exists():
            return reference
    raise RuntimeError("could not draw a free dispute reference")  # pragma: no cover


def _target(invoice: Invoice) -> dict:
    return {"account": invoice.account} if invoice.account_id else {"plan": invoice.plan}


def _check_may_file(*, invoice: Invoice, actor, field: str | None = None) -> None:
    if not user_can(actor, Action.DISPUTE, **_target(invoice)):
        raise DisputeRefused(_("You may not dispute invoice %(number)s.") % {"number": invoice.number}, field=field)
    refusal = dispute_online_refusal(invoice)
    if refusal is not None:
        billable = invoice.billable
        raise DisputeRefused(
            _(
                "Invoice %(number)s cannot be disputed online (paper invoice or temporary account "
                "number). Please call the billing contact printed on the invoice: %(phone)s."
            )
            % {"number": invoice.number, "phone": billable.billing_contact_phone},
            field=field,
            code=refusal,
        )


def _open_items(invoice: Invoice):
    return DisputeItem.objects.filter(dispute__invoice=invoice, dispute__status__in=OPEN_DISPUTE_STATUSES)


def _create_dispute(*, invoice: Invoice, actor, comment: str, language: str, items: list[DisputeItem]) -> Dispute:
    billable = invoice.billable
    dispute = Dispute.objects.create(
        reference=_new_reference(),
        company=billable.company,
        invoice=invoice,
        filed_by=actor,
        comment=comment,
        disputed_amount=sum((item.amount for item in items), Decimal(0)),
        language=language,
    )
    for item in items:
        item.dispute = dispute
    DisputeItem.objects.bulk_create(items)
    DisputeEvent.objects.create(dispute=dispute, from_status="", to_status=DisputeStatus.SUBMITTED, actor=actor)
    return dispute


def _attach(*, disputes: Iterable[Dispute], checked: list[_CheckedFile], actor, written: list[str]) -> None:
    stored = [(c, _store_file(c, written)) for c in checked]
    DisputeAttachment.objects.bulk_create(
        [
            DisputeAttachment(
                dispute=dispute,
                file=relative,
                name=c.name,
                content_type=c.content_type,
                size=c.size,
                uploaded_by=actor,
            )
            for dispute in disputes
            for c, relative in stored
        ]
    )


# --- Filing ------------------------------------------------------------------------------------


def dispute_file(
    *,
    invoice: Invoice,
    items: Sequence[DisputeItemInput],
    comment: str = "",
    attachments: Sequence = (),
    actor,
    language: str = "ko",
) -> Dispute:
    """File one dispute over charges of ``invoice`` (or the whole invoice).

    Each disputed amount is more than zero and at most its charge; a charge already in an
    open dispute cannot be disputed again until that dispute is decided. Every check, the
    attachments' included, runs before a file is stored; stored files are removed again if
    the transaction fails, commit included.
    """
    with _files_removed_on_failure() as written, transaction.atomic():
        _check_may_file(invoice=invoice, actor=actor)
        if not items:
            raise DisputeRefused(_("Select at least one charge to dispute, or the whole invoice."), code="no_items")
        # Lock the invoice so two filings over the same charge cannot both pass the overlap check.
        invoice = Invoice.objects.select_for_update(of=("self",)).select_related("account", "plan").get(pk=invoice.pk)
        lines = {line.id: line for line in InvoiceLine.objects.filter(invoice=invoice)}
        open_items = list(_open_items(invoice).values_list("line_id", flat=True))
        whole_open = None in open_items
        wants_whole = any(item.line_id is None for item in items)
        if wants_whole and len(items) > 1:
            raise DisputeRefused(
                _("Dispute either the whole invoice or single charges, not both."), code="whole_and_lines"
            )
        if whole_open or (wants_whole and open_items):
            raise DisputeRefused(
                _("This invoice already has an open dispute over these charges. Follow it under Disputes."),
                code="already_disputed",
            )
        valid_reasons = set(DisputeReason.values)
        rows: list[DisputeItem] = []
        for item in items:
            prefix = item.field_prefix
            if item.reason not in valid_reasons:
                raise DisputeRefused(_("Choose a reason."), field=f"{prefix}reason" if prefix else None)
            if item.line_id is None:
                charge = invoice.total
                line = None
            else:
                line = lines.get(item.line_id)
                if line is None:
                    raise DisputeRefused(_("That charge is not on this invoice."), code="foreign_line")
                if line.id in open_items:
                    raise DisputeRefused(
                        _("This charge is already in an open dispute."),
                        field=f"{prefix}amount" if prefix else None,
                        code="already_disputed",
                    )
                charge = line.amount
            if charge <= 0:
                raise DisputeRefused(_("Only charges can be disputed, not credits."), code="not_a_charge")
            try:
                amount = quantize(item.amount, invoice.currency)
            except (ValueError, TypeError):
                raise DisputeRefused(_("Enter an amount."), field=f"{prefix}amount" if prefix else None) from None
            if amount != item.amount:
                raise DisputeRefused(
                    _("Enter the amount with no more decimals than %(currency)s has.") % {"currency": invoice.currency},
                    field=f"{prefix}amount" if prefix else None,
                    code="amount_precision",
                )
            if amount <= 0:
                raise DisputeRefused(
                    _("The disputed amount must be more than zero."),
                    field=f"{prefix}amount" if prefix else None,
                    code="amount_not_positive",
                )
            if amount > charge:
                raise DisputeRefused(
                    _("The disputed amount cannot be more than the charge (%(charge)s).")
                    % {"charge": format_money(charge, invoice.currency)},
                    field=f"{prefix}amount" if prefix else None,
                    code="amount_above_charge",
                )
            rows.append(DisputeItem(line=line, reason=item.reason, amount=amount))
        checked = _check_attachments(attachments)

        dispute = _create_dispute(invoice=invoice, actor=actor, comment=comment, language=language, items=rows)
        _attach(disputes=[dispute], checked=checked, actor=actor, written=written)
        audit_record(
            action="dispute.filed",
            actor=actor,
            company=dispute.company,
            target=dispute,
            data={
                "invoice": invoice.number,
                "amount": str(dispute.disputed_amount),
                "currency": invoice.currency,
                "items": len(rows),
                "attachments": len(checked),
            },
        )
        transaction.on_commit(lambda: dispute_notify(dispute_id=dispute.pk, kind="filed"))
        return dispute


def dispute_file_bulk(
    *,
    invoices: Sequence[Invoice],
    reason: str,
    comment: str = "",
    attachments: Sequence = (),
    actor,
    language: str = "ko",
) -> list[Dispute]:
    """Dispute several whole invoices in one go with one reason: one dispute per invoice, for its total."""
    with _files_removed_on_failure() as written, transaction.atomic():
        if not invoices:
            raise DisputeRefused(_("Select at least one invoice to dispute."), code="no_items")
        if reason not in set(DisputeReason.values):
            raise DisputeRefused(_("Choose a reason."), field="reason")
        ids = sorted(invoice.pk for invoice in invoices)
        locked = list(
            Invoice.objects.select_for_update(of=("self",))
            .select_related("account", "plan")
            .filter(pk__in=ids)
            .order_by("pk")
        )
        for invoice in locked:
            _check_may_file(invoice=invoice, actor=actor)
            if invoice.total <= 0:
                raise DisputeRefused(
                    _("Invoice %(number)s has no charges to dispute.") % {"number": invoice.number},
                    code="not_a_charge",
                )
            if _open_items(invoice).exists():
                raise DisputeRefused(
                    _("Invoice %(number)s already has an open dispute. Follow it under Disputes.")
                    % {"number": invoice.number},
                    code="already_disputed",
                )
        checked = _check_attachments(attachments)
        disputes = [
            _create_dispute(
                invoice=invoice,
                actor=actor,
                comment=comment,
                language=language,
                items=[DisputeItem(line=None, reason=reason, amount=invoice.total)],
            )
            for invoice in locked
        ]
        _attach(disputes=disputes, checked=checked, actor=actor, written=written)
        for dispute in disputes:
            audit_record(
                action="dispute.filed",
                actor=actor,
                company=dispute.company,
                target=dispute,
                data={
                    "invoice": dispute.invoice.number,
                    "amount": str(dispute.disputed_amount),
                    "currency": dispute.invoice.currency,
                    "bulk": len(disputes),
                },
            )
            transaction.on_commit(lambda pk=dispute.pk: dispute_notify(dispute_id=pk, kind="filed"))
        return disputes


# --- Status changes ---------------------------------------------------------------------------


def _lock(dispute: Dispute) -> Dispute:
    return Dispute.objects.select_for_update(of=("self",)).select_related("invoice", "company").get(pk=dispute.pk)


def _transition_locked(
    locked: Dispute, *, to_status: str, actor, notify: bool = True, message_id: int | None = None
) -> Dispute:
    if to_status not in DISPUTE_TRANSITIONS.get(locked.status, frozenset()):
        raise DisputeRefused(
            _("A dispute that is %(current)s cannot become %(new)s.")
            % {
                "current": DisputeStatus(locked.status).label,
                "new": DisputeStatus(to_status).label,
            },
            code="bad_transition",
        )
    previous = locked.status
    locked.status = to_status
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
        transaction.on_commit(lambda: dispute_notify(dispute_id=locked.pk, kind="status", message_id=message_id))
    return locked


@transaction.atomic
def dispute_transition(*, dispute: Dispute, to_status: str, actor, notify: bool = True) -> Dispute:
    """The one way a dispute changes status: checked against the table, locked, recorded, e-mailed."""
    locked = _transition_locked(_lock(dispute), to_status=to_status, actor=actor, notify=notify)
    dispute.status = locked.status
    return locked


@transaction.atomic
def dispute_assign(*, dispute: Dispute, assignee, actor) -> Dispute:
    """Give the dispute to a staff member; a submitted dispute goes under review."""
    if assignee is not None and not assignee.is_staff:
        raise DisputeRefused(_("Disputes can only be assigned to billing staff."), field="assignee")
    locked = _lock(dispute)
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
        _transition_locked(locked, to_status=DisputeStatus.UNDER_REVIEW, actor=actor)
    dispute.assignee = assignee
    dispute.status = locked.status
    return locked


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
    locked = _lock(dispute)
    if locked.status == DisputeStatus.SUBMITTED:
        _transition_locked(locked, to_status=DisputeStatus.UNDER_REVIEW, actor=actor, notify=False)
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
    _transition_locked(locked, to_status=to_status, actor=actor, message_id=message_id)
    return locked


@transaction.atomic
def dispute_close(*, dispute: Dispute, actor) -> Dispute:
    return dispute_transition(dispute=dispute, to_status=DisputeStatus.CLOSED, actor=actor)


@transaction.atomic
def dispute_withdraw(*, dispute: Dispute, actor) -> Dispute:
    """The customer withdraws an open dispute: it closes with no credit."""
    if not dispute.is_open:
        raise DisputeRefused(_("Only an open dispute can be withdrawn."), code="not_open")
    if not user_can(actor, Action.DISPUTE, **_target(dispute.invoice)):
        raise DisputeRefused(_("You may not withdraw this dispute."))
    locked = _lock(dispute)
    audit_record(action="dispute.withdrawn", actor=actor, company=locked.company, target=locked)
    return _transition_locked(locked, to_status=DisputeStatus.CLOSED, actor=actor)


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
    locked = _lock(dispute)
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
        transaction.on_commit(lambda: dispute_notify(dispute_id=locked.pk, kind="reply", message_id=message.pk))
    return message


# --- E-mail -------------------------------------------------------------------------------------


def dispute_notify(*, dispute_id: int, kind: str, message_id: int | None = None) -> None:
    """E-mail the filer about their dispute (filed, a status change, a staff reply), in their language."""
    dispute = (
        Dispute.objects.select_related("invoice", "filed_by", "invoice__account", "invoice__plan")
        .filter(pk=dispute_id)
        .first()
    )
    if dispute is None or not dispute.filed_by.email:
        return
    message = None
    if message_id is not None:
        message = DisputeMessage.objects.filter(pk=message_id, dispute=dispute, internal=False).first()
        if message is None:
            return
    path = reverse("disputes:detail", args=[dispute.reference])
    context = {
        "dispute": dispute,
        "kind": kind,
        "message": message,
        "url": getattr(settings, "SITE_URL", "").rstrip("/") + path,
        "support_phone": settings.BILLING_SUPPORT_PHONE,
    }
    with translation.override(dispute.language or settings.LANGUAGE_CODE):
        if kind == "filed":
            subject = _("Dispute %(reference)s received") % {"reference": dispute.reference}
        elif kind == "reply":
            subject = _("New message on dispute %(reference)s") % {"reference": dispute.reference}
        else:
            subject = _("Dispute %(reference)s: %(status)s") % {
                "reference": dispute.reference,
                "status": dispute.get_status_display(),
            }
        body = render_to_string("disputes/email/dispute_notice.txt", context)
    try:
        send_mail(str(subject), body, None, [dispute.filed_by.email])
    except Exception:  # a mail outage must not undo a committed decision
        logger.exception("dispute e-mail %s for %s failed", kind, dispute.reference)
