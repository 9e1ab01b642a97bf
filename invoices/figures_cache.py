"""Freshness of the cached figures of large invoice sets (issue 8).

The table totals and the dashboard figures of a set of 10,000 invoices or more are kept in
the cache for a minute (aggregating 200,000 invoices on every request is not needed). Their
keys include each visible company's *figures version*; a service that changes what invoices
owe (a payment settled, a credit applied, a fee or adjustment line, an imported invoice)
calls ``invoice_figures_changed``, and so does an account or plan joining or leaving the
company (a signal of accounts), so the next request computes fresh figures instead of
waiting out the minute. Writes outside the services (the admin, a shell) are caught by the
minute.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from django.core.cache import cache
from django.db import transaction


def _key(company_id) -> str:
    return f"invoice-figures-version:{company_id}"


def invoice_figures_changed(*, company_ids: Iterable[int]) -> None:
    """Mark the figures of these companies stale, once the current transaction commits."""
    keys = [_key(company_id) for company_id in set(company_ids) if company_id is not None]
    if keys:
        # A clock reading, not a counter: a version lost from the cache never comes back as
        # an older value that matches figures cached before the change.
        transaction.on_commit(lambda: cache.set_many(dict.fromkeys(keys, time.time_ns()), timeout=None))


def invoice_figures_changed_for(*, invoice_ids: Iterable[int]) -> None:
    """``invoice_figures_changed`` for the companies billed by these invoices (one query)."""
    from .models import Invoice

    ids = list(invoice_ids)
    if not ids:
        return
    owners = Invoice.objects.filter(id__in=ids).values_list("account__company_id", "plan__company_id")
    invoice_figures_changed(company_ids={account or plan for account, plan in owners})


def on_billable_company_changed(sender, *, company_id, **kwargs) -> None:
    """An account or plan joined or left the company (accounts.services.billable_company_changed)."""
    invoice_figures_changed(company_ids=[company_id])


def invoice_figures_version(*, company_ids: Iterable[int]) -> str:
    """The current versions of these companies' figures, as one string for a cache key."""
    ids = sorted(set(company_ids))
    found = cache.get_many([_key(company_id) for company_id in ids])
    return ",".join(f"{company_id}:{found.get(_key(company_id), 0)}" for company_id in ids)
