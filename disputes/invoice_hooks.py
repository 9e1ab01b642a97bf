"""What disputes adds to invoices, registered in ``DisputesConfig.ready()``.

invoices never queries through ``Invoice.disputes`` (dependencies point one way); disputes tells
it, through ``invoices.registry``, what "an open dispute holds this invoice" means and what the
invoice detail page shows of the invoice's disputes.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef

from invoices.registry import detail_sections, open_holds

from .models import OPEN_DISPUTE_STATUSES, Dispute


def invoice_has_open_dispute():
    """True for an invoice with a dispute submitted or under review: one ``Exists`` on the
    dispute's invoice index, correlated on the invoice row."""
    return Exists(Dispute.objects.filter(invoice=OuterRef("pk"), status__in=OPEN_DISPUTE_STATUSES))


def invoice_detail_disputes(*, invoice, user) -> dict:
    """The disputes filed for the invoice, newest first (one query)."""
    return {"disputes": list(Dispute.objects.filter(invoice=invoice))}


def register() -> None:
    open_holds.register("disputes.open_dispute", invoice_has_open_dispute)
    detail_sections.register(
        "disputes", invoice_detail_disputes, template="disputes/invoice_detail_section.html", order=20
    )
