"""Cached figures of large invoice sets are fresh after a service changes what is owed.

Sets of 10,000+ invoices keep their table totals and dashboard figures for a minute; the
threshold is lowered here so a small world is "large". A write through the services bumps
the company's figures version; a write behind their back (a raw ORM update) stays cached,
which shows the cache is really in use.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import F

from invoices import selectors
from invoices.models import Invoice
from invoices.services import invoice_adjustment_post
from tests.factories import InvoiceFactory

URL = "/invoices/accounts/"


@pytest.fixture(autouse=True)
def _everything_is_large(monkeypatch):
    monkeypatch.setattr(selectors, "TABLE_TOTALS_CACHE_MIN_ROWS", 1)
    monkeypatch.setattr(selectors, "DASHBOARD_CACHE_MIN_INVOICES", 1)


@pytest.fixture
def open_invoice(world):
    return InvoiceFactory(account=world.account_a, currency="KRW", total=Decimal("50000"), amount_paid=0)


def _table_balance(client) -> Decimal:
    totals = client.get(URL).context["totals"]
    return sum((row["balance"] for row in totals.by_currency if row["currency"] == "KRW"), Decimal(0))


def _dashboard_due(client) -> Decimal:
    summary = client.get("/").context["summary"]
    return next(figure.total_due for figure in summary.figures if figure.currency == "KRW")


@pytest.mark.parametrize("read", [_table_balance, _dashboard_due], ids=["table", "dashboard"])
def test_an_adjustment_through_the_service_is_seen_on_the_next_request(
    client, world, open_invoice, read, django_capture_on_commit_callbacks
):
    client.force_login(world.admin)
    before = read(client)

    # Behind the services' back: the cached figure is served (the cache is in use).
    Invoice.objects.filter(pk=open_invoice.pk).update(total=F("total") + Decimal("1000"))
    assert read(client) == before

    with django_capture_on_commit_callbacks(execute=True):
        invoice_adjustment_post(
            invoice=open_invoice, amount=Decimal("-5000"), description="credit", actor=world.admin
        )
    assert read(client) == before + Decimal("1000") - Decimal("5000")


def test_another_companys_change_keeps_our_cached_figures(
    client, world, open_invoice, django_capture_on_commit_callbacks
):
    client.force_login(world.admin)
    before = _table_balance(client)
    Invoice.objects.filter(pk=open_invoice.pk).update(total=F("total") + Decimal("1000"))
    with django_capture_on_commit_callbacks(execute=True):
        invoice_adjustment_post(invoice=world.foreign, amount=Decimal("-100"), description="x", actor=world.outsider)
    assert _table_balance(client) == before
