"""Filing disputes: one invoice by charge (``dispute_file``) or several whole invoices (``dispute_file_bulk``).

The invoices are locked through ``invoices.locks`` (so two filings over the same charge cannot both
pass the overlap check); the new dispute is e-mailed to its filer in the same transaction (outbox).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.access import Action, user_can
from accounts.audit import audit_record
from core.money import format_money, quantize
from invoices.locks import invoice_lock, invoices_lock
from invoices.models import Invoice, InvoiceLine

from ..models import OPEN_DISPUTE_STATUSES, Dispute, DisputeEvent, DisputeItem, DisputeReason, DisputeStatus
from .attachments import attachments_check, attachments_store, files_removed_on_failure
from .notifications import dispute_notify
from .rules import DisputeRefused, dispute_online_refusal, dispute_target


@dataclass(frozen=True)
class DisputeItemInput:
    """One charge to dispute: an invoice line, or the whole invoice when ``line_id`` is None."""

    line_id: int | None
    reason: str
    amount: Decimal
    # The form field the error belongs next to (``line_<id>_amount`` …), for the view.
    field_prefix: str = ""


def _new_reference() -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    for _attempt in range(10):
        reference = "D" + timezone.localdate().strftime("%y%m") + "".join(secrets.choice(alphabet) for _ in range(7))
        if not Dispute.objects.filter(reference=reference).exists():
            return reference
    raise RuntimeError("could not draw a free dispute reference")  # pragma: no cover


def _check_may_file(*, invoice: Invoice, actor, field: str | None = None) -> None:
    if not user_can(actor, Action.DISPUTE, **dispute_target(invoice)):
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
    with files_removed_on_failure() as written, transaction.atomic():
        _check_may_file(invoice=invoice, actor=actor)
        if not items:
            raise DisputeRefused(_("Select at least one charge to dispute, or the whole invoice."), code="no_items")
        # Lock the invoice so two filings over the same charge cannot both pass the overlap check.
        invoice = invoice_lock(invoice)
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
        checked = attachments_check(attachments)

        dispute = _create_dispute(invoice=invoice, actor=actor, comment=comment, language=language, items=rows)
        attachments_store(disputes=[dispute], checked=checked, actor=actor, written=written)
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
        dispute_notify(dispute_id=dispute.pk, kind="filed")
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
    with files_removed_on_failure() as written, transaction.atomic():
        if not invoices:
            raise DisputeRefused(_("Select at least one invoice to dispute."), code="no_items")
        if reason not in set(DisputeReason.values):
            raise DisputeRefused(_("Choose a reason."), field="reason")
        ids = sorted(invoice.pk for invoice in invoices)
        locked = invoices_lock(ids)
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
        checked = attachments_check(attachments)
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
        attachments_store(disputes=disputes, checked=checked, actor=actor, written=written)
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
            dispute_notify(dispute_id=dispute.pk, kind="filed")
        return disputes
