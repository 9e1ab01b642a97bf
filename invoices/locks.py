"""Row locks and the one order they are taken in; the only module that locks invoices.

Two transactions that lock the same rows in the same order cannot deadlock. Every service that
locks rows of more than one kind takes them in this order:

1. the owning row of the change: the company's administrators (memberships, by id), the shipping
   account or plan, the AutoPay schedule, the payment method, the dispute, the payment(s) (by id);
2. the invoices, **last**, in one statement, in id order (``invoices_lock``).

A service that needs an invoice's row lock calls ``invoice_lock`` / ``invoices_lock``: nothing else
calls ``select_for_update`` on ``Invoice`` (tests/test_dependencies.py checks it). ``of=("self",)``
keeps the lock on the invoice rows even when the account and plan are fetched alongside.
"""

from __future__ import annotations

from collections.abc import Iterable

from .models import Invoice

RELATED = ("account", "plan")


def invoices_lock(ids: Iterable[int], *, related: tuple[str, ...] = RELATED) -> list[Invoice]:
    """Lock the invoices ``ids`` in id order (inside a transaction); returns them in that order."""
    locked = Invoice.objects.select_for_update(of=("self",)).filter(pk__in=sorted(set(ids))).order_by("pk")
    return list(locked.select_related(*related) if related else locked)


def invoice_lock(invoice: Invoice | int, *, related: tuple[str, ...] = RELATED) -> Invoice:
    """Lock one invoice and read it again (inside a transaction); Invoice.DoesNotExist if it is gone."""
    pk = invoice if isinstance(invoice, int) else invoice.pk
    locked = Invoice.objects.select_for_update(of=("self",))
    return (locked.select_related(*related) if related else locked).get(pk=pk)
