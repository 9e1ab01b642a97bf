"""Credit balances (an invoice paid above its total, after a dispute's credit) pay first.

A payment of an account's or plan's invoices uses the credit of the same account or plan and
currency before anything is charged. The credit invoices are found before locking and locked
with the invoices to pay (``payments_open``); the amounts move through the invoices app
(``invoices.services.invoice_credits_apply``).
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Q

from invoices.models import Invoice, InvoiceStatus

from ..models import CreditApplication
from .checks import InvoiceCheck


def credit_candidate_ids(invoice_ids: list[int]) -> list[int]:
    """Invoices in credit of the same accounts/plans as these (read before locking, re-checked after)."""
    rows = list(Invoice.objects.filter(id__in=invoice_ids).values_list("account_id", "plan_id"))
    accounts = {a for a, _p in rows if a}
    plans = {p for _a, p in rows if p}
    if not accounts and not plans:
        return []
    return list(
        Invoice.objects.filter(status=InvoiceStatus.CREDIT)
        .filter(Q(account_id__in=accounts) | Q(plan_id__in=plans))
        .values_list("id", flat=True)
    )


def credits_plan(
    *, payable: list[InvoiceCheck], pool: list[Invoice], available: dict[int, Decimal], idempotency_key: str, actor
) -> list[CreditApplication]:
    """Use credit balances of the same account or plan and currency first; the invoices are locked.

    ``available`` is what each credit invoice of ``pool`` still has to give (shared by the attempts
    of one batch, and lowered here). Lowers each ``check.amount`` by the credit used; returns
    unsaved ``CreditApplication`` rows, whose amounts the caller moves between the invoices
    (``invoice_credits_apply``) when it writes them.
    """
    applications = []
    for check in sorted(payable, key=lambda c: (c.invoice.due_date, c.invoice.number)):
        target = check.invoice
        for source in pool:
            if check.amount <= 0:
                break
            if source.id == target.id or available.get(source.id, Decimal(0)) <= 0:
                continue
            if (source.account_id, source.plan_id, source.currency) != (
                target.account_id,
                target.plan_id,
                target.currency,
            ):
                continue
            used = min(check.amount, available[source.id])
            available[source.id] -= used
            check.amount -= used
            applications.append(
                CreditApplication(
                    source_invoice=source,
                    target_invoice=target,
                    amount=used,
                    currency=target.currency,
                    idempotency_key=idempotency_key,
                    created_by=actor if getattr(actor, "is_authenticated", False) else None,
                )
            )
    return applications
