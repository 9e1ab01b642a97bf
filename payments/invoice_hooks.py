"""What payments adds to invoices, registered in ``PaymentsConfig.ready()``.

invoices never reads ``Invoice.allocations`` (dependencies point one way): the invoice detail
page asks ``invoices.registry.detail_sections``, and payments answers with the payments applied.
"""

from __future__ import annotations

from invoices.registry import detail_sections

from .models import PaymentAllocation


def invoice_detail_payments(*, invoice, user) -> dict:
    """The payments applied to the invoice, with their payment (one query)."""
    return {"allocations": list(PaymentAllocation.objects.filter(invoice=invoice).select_related("payment"))}


def register() -> None:
    detail_sections.register(
        "payments", invoice_detail_payments, template="payments/invoice_detail_section.html", order=10
    )
