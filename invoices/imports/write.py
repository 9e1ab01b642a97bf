"""Writing an import: the checked invoices created all or nothing, their print fees posted and
the new-invoice notices put in the outbox, in one transaction."""

from __future__ import annotations

from django.db import transaction

from accounts.audit import audit_record
from accounts.models import ShippingAccount

from ..fees import print_fee_assess
from ..figures_cache import invoice_figures_changed
from ..models import Invoice, InvoiceLine, Shipment
from .notices import new_invoice_notices_queue
from .parse import ImportResult, ParsedInvoice, invoices_parse


def _create(parsed: ParsedInvoice, *, actor, source: str) -> Invoice:
    billable = parsed.billable
    invoice = Invoice.objects.create(
        number=parsed.number,
        control_id=parsed.control_id,
        account=billable if parsed.billed_type == "account" else None,
        plan=billable if parsed.billed_type == "plan" else None,
        invoice_date=parsed.invoice_date,
        due_date=parsed.due_date,
        currency=parsed.currency,
        total=parsed.total,
    )
    shipments: dict[str, Shipment] = {}
    for line in parsed.lines:
        shipment = None
        if line.shipment is not None:
            s = line.shipment
            shipment = shipments.get(s.tracking_number)
            if shipment is None:
                shipment, _created = Shipment.objects.get_or_create(
                    tracking_number=s.tracking_number,
                    defaults={
                        "account": ShippingAccount.objects.get(number=s.account_number),
                        "ship_date": s.ship_date,
                        "service": s.service,
                        "weight_kg": s.weight_kg,
                        "origin": s.origin[:120],
                        "destination": s.destination[:120],
                        "reference": s.reference[:60],
                    },
                )
                shipments[s.tracking_number] = shipment
        InvoiceLine.objects.create(
            invoice=invoice,
            position=line.position,
            kind=line.kind,
            description=line.description,
            amount=line.amount,
            shipment=shipment,
        )
    invoice_figures_changed(company_ids=[billable.company_id])
    audit_record(
        action="invoice.imported",
        actor=actor,
        company=billable.company,
        target=invoice,
        data={"source": source, "total": str(invoice.total), "currency": invoice.currency, "lines": len(parsed.lines)},
    )
    return invoice


def invoices_import(*, data: bytes, name: str = "", actor=None, recorder=None) -> ImportResult:
    """Import a file all or nothing; the same file twice creates nothing the second time."""
    parsed = invoices_parse(data=data, name=name)
    result = ImportResult()
    created_ids: list[int] = []
    with transaction.atomic():
        for item in parsed:
            if item.existing is not None:
                result.unchanged.append(item.number)
                continue
            # Two imports of one file at once: the unique invoice number refuses the second.
            invoice = _create(item, actor=actor, source=name)
            if print_fee_assess(invoice=invoice, actor=actor) is not None:
                result.print_fees += 1
            result.created.append(invoice.number)
            created_ids.append(invoice.id)
        if created_ids:
            # In the outbox with the invoices: sent once they are committed, never before.
            result.notified = new_invoice_notices_queue(invoice_ids=created_ids)
    if recorder is not None:
        recorder.count("created", len(result.created))
        recorder.count("unchanged", len(result.unchanged))
        recorder.count("print_fees", result.print_fees)
    return result
