"""A payment settles and the very next table and dashboard show it, even for cached large sets.

Sets of 10,000+ invoices keep their figures for a minute; the threshold is lowered here so
this small company counts as large. Settling a payment bumps the company's figures version,
whichever way the money came in: a one-time payment, an AutoPay run or Pay Now (issue 21).
A raw UPDATE behind the services' back stays cached, which shows the cache is in use.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db.models import F
from django.test import Client

from invoices.models import Invoice
from invoices.selectors import dashboard, tables
from payments import autopay, services
from payments.models import Payment, PaymentStatus
from tests.invoices.factories import InvoiceFactory

from .conftest import future
from .test_autopay import at, setup_autopay
from .test_pay_now import confirm, details, lookup

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _everything_is_large(monkeypatch):
    monkeypatch.setattr(tables, "TABLE_TOTALS_CACHE_MIN_ROWS", 1)
    monkeypatch.setattr(dashboard, "DASHBOARD_CACHE_MIN_INVOICES", 1)


def _figures(client) -> tuple[Decimal, Decimal]:
    totals = client.get("/invoices/accounts/").context["totals"]
    balance = sum((row["balance"] for row in totals.by_currency), Decimal(0))
    due = sum((figure.total_due for figure in client.get("/").context["summary"].figures), Decimal(0))
    return balance, due


def test_the_next_request_after_a_payment_shows_the_new_balance(
    client, admin_user, account, wallet_card, django_capture_on_commit_callbacks
):
    from tests.invoices.factories import InvoiceFactory

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


# --- AutoPay and Pay Now: the other two ways money comes in (issue 21) ----------------------------


def _freeze_figures_behind_the_services(invoice) -> None:
    """Change a total with a raw UPDATE: no service bumps the version, so a cached figure stays."""
    Invoice.objects.filter(pk=invoice.pk).update(total=F("total") + 1)


def test_the_next_request_after_an_autopay_run_shows_the_new_balance(
    client, admin_user, account, wallet_card, django_capture_on_commit_callbacks
):
    setup_autopay(admin_user, account, wallet_card, days_before_due=3)
    due = InvoiceFactory(
        account=account,
        total=Decimal("30000"),
        invoice_date=datetime.date(2026, 3, 5),
        due_date=datetime.date(2026, 3, 25),
    )
    InvoiceFactory(
        account=account,
        total=Decimal("12000"),
        invoice_date=datetime.date(2026, 3, 6),
        due_date=datetime.date(2026, 4, 30),
    )
    client.force_login(admin_user)
    with at(datetime.date(2026, 3, 22)):
        assert _figures(client) == (Decimal("42000"), Decimal("42000"))
        _freeze_figures_behind_the_services(due)
        assert _figures(client) == (Decimal("42000"), Decimal("42000"))  # the cache is in use

        with django_capture_on_commit_callbacks(execute=True):
            autopay.autopay_run()

        due.refresh_from_db()
        assert due.balance == 0  # AutoPay paid the invoice due in three days: ₩30,001
        assert _figures(client) == (Decimal("12000"), Decimal("12000"))


def test_the_next_request_after_a_pay_now_payment_shows_the_new_balance(
    client, admin_user, account, invoice, django_capture_on_commit_callbacks
):
    client.force_login(admin_user)
    assert _figures(client) == (Decimal("13000"), Decimal("13000"))
    _freeze_figures_behind_the_services(invoice)  # ₩13,001 now, but the cached ₩13,000 is served
    assert _figures(client) == (Decimal("13000"), Decimal("13000"))

    guest = Client(HTTP_ACCEPT_LANGUAGE="en")  # someone paying without logging in
    assert lookup(guest, amount="13,001").status_code == 302
    assert details(guest).status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        response, _key = confirm(guest)

    assert response.status_code == 302
    assert Payment.objects.get().status == PaymentStatus.SUCCEEDED
    assert _figures(client) == (Decimal("0"), Decimal("0"))
