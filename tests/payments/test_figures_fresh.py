"""A payment settles and the very next table and dashboard show it, even for cached large sets.

Sets of 10,000+ invoices keep their figures for a minute; the threshold is lowered here so
this small company counts as large. Settling a payment bumps the company's figures version.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from invoices import selectors
from payments import services

from .conftest import future

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _everything_is_large(monkeypatch):
    monkeypatch.setattr(selectors, "TABLE_TOTALS_CACHE_MIN_ROWS", 1)
    monkeypatch.setattr(selectors, "DASHBOARD_CACHE_MIN_INVOICES", 1)


def _figures(client) -> tuple[Decimal, Decimal]:
    totals = client.get("/invoices/accounts/").context["totals"]
    balance = sum((row["balance"] for row in totals.by_currency), Decimal(0))
    due = sum((figure.total_due for figure in client.get("/").context["summary"].figures), Decimal(0))
    return balance, due


def test_the_next_request_after_a_payment_shows_the_new_balance(
    client, admin_user, account, wallet_card, django_capture_on_commit_callbacks
):
    from tests.factories import InvoiceFactory

    first = InvoiceFactory(account=account, total=Decimal("30000"), invoice_date=future(-5), due_date=future(20))
    InvoiceFactory(account=account, total=Decimal("12000"), invoice_date=future(-4), due_date=future(21))
    client.force_login(admin_user)
    assert _figures(client) == (Decimal("42000"), Decimal("42000"))
    # Behind the services' back the cached figures are served: the cache is in use.
    from django.db.models import F

    from invoices.models import Invoice

    Invoice.objects.filter(pk=first.pk).update(total=F("total") + 1)
    assert _figures(client) == (Decimal("42000"), Decimal("42000"))

    with django_capture_on_commit_callbacks(execute=True):
        outcome = services.payment_create(
            actor=admin_user,
            invoice_ids=[first.id],
            source=services.PaymentSource.from_method(wallet_card),
            idempotency_key="fresh-figures",
        )
    assert outcome.payments[0].status == "succeeded"
    assert _figures(client) == (Decimal("12000"), Decimal("12000"))  # paid in full: ₩30,001
