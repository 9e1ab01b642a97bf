"""Cached figures of large invoice sets are fresh after a service changes what is owed.

Sets of 10,000+ invoices keep their table totals and dashboard figures for a minute; the
threshold is lowered here so a small world is "large". A write through the services bumps
the company's figures version; a write behind their back (a raw ORM update) stays cached,
which shows the cache is really in use.

Covered (bench/RESULTS.md: "bumped after commit by every service that changes what invoices
owe"): adjustments, late and print fees of the daily job, ``import_invoices``, dispute credits,
and an account joining or leaving the company; payments (one-time, AutoPay, Pay Now) are in
tests/payments/test_figures_fresh.py.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db.models import F
from django.utils import timezone

from invoices.models import Invoice, LineKind
from invoices.selectors import dashboard, tables
from invoices.services import invoice_adjustment_post
from tests.invoices.factories import InvoiceFactory

URL = "/invoices/accounts/"


@pytest.fixture(autouse=True)
def _everything_is_large(monkeypatch):
    monkeypatch.setattr(tables, "TABLE_TOTALS_CACHE_MIN_ROWS", 1)
    monkeypatch.setattr(dashboard, "DASHBOARD_CACHE_MIN_INVOICES", 1)


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
        invoice_adjustment_post(invoice=open_invoice, amount=Decimal("-5000"), description="credit", actor=world.admin)
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


# --- Every other write that changes what is owed or what is in scope (issue 21) ------------------
#
# Each test warms the cache through the pages, changes a total behind the services' back (so a
# stale figure would still be served: the cache is in use), writes through the service or view
# under test, and reads the pages again.


def _figures(client) -> tuple[Decimal, Decimal]:
    return _table_balance(client), _dashboard_due(client)


def _warm_and_freeze(client, world, invoice) -> tuple[Decimal, Decimal]:
    """Warm both caches, then add ₩1,000 to ``invoice`` with a raw UPDATE; the cached figures stay."""
    client.force_login(world.admin)
    before = _figures(client)
    Invoice.objects.filter(pk=invoice.pk).update(total=F("total") + Decimal("1000"))
    assert _figures(client) == before  # the cached figures are served
    return before


def _days(n: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=n)


def test_a_late_fee_posted_by_the_daily_job_is_seen_on_the_next_request(
    client, world, django_capture_on_commit_callbacks
):
    from invoices.fees import fees_assess

    # Due 20 days ago: the KR rule posts 2% of ₩50,000, at least ₩5,000, 14 days after the due date.
    overdue = InvoiceFactory(
        account=world.account_a, total=Decimal("50000"), invoice_date=_days(-50), due_date=_days(-20)
    )
    before = _warm_and_freeze(client, world, overdue)

    with django_capture_on_commit_callbacks(execute=True):
        counts = fees_assess()

    assert counts["late_fee"] >= 1
    assert overdue.lines.get(kind=LineKind.LATE_FEE).amount == Decimal("5000")
    assert _figures(client) == (before[0] + Decimal("6000"), before[1] + Decimal("6000"))


def test_a_print_fee_posted_by_the_daily_job_is_seen_on_the_next_request(
    client, world, django_capture_on_commit_callbacks
):
    from accounts.models import InvoiceDelivery
    from invoices.fees import fees_assess

    world.account_b.invoice_delivery = InvoiceDelivery.PAPER
    world.account_b.paperless_since = None
    world.account_b.save()
    paper = InvoiceFactory(account=world.account_b, total=Decimal("40000"), invoice_date=_days(-2), due_date=_days(28))
    before = _warm_and_freeze(client, world, paper)

    with django_capture_on_commit_callbacks(execute=True):
        counts = fees_assess()

    assert counts["print_fee"] >= 1
    assert paper.lines.get(kind=LineKind.PRINT_FEE).amount == Decimal("13000")
    assert _figures(client) == (before[0] + Decimal("14000"), before[1] + Decimal("14000"))


def test_an_invoice_imported_by_import_invoices_is_seen_on_the_next_request(
    client, world, tmp_path, django_capture_on_commit_callbacks
):
    from django.core.management import call_command

    from .conftest import add_lines
    from .test_import import _rename, exported

    source = add_lines(InvoiceFactory(account=world.account_a, invoice_date=_days(-3), due_date=_days(27)))
    path = tmp_path / "IMP000000777.xml"
    path.write_bytes(exported(source, "xml", rename=_rename(source, "IMP000000777")))
    before = _warm_and_freeze(client, world, source)

    with django_capture_on_commit_callbacks(execute=True):
        call_command("import_invoices", str(path))

    imported = Invoice.objects.get(number="IMP000000777").balance
    assert imported > 0
    assert _figures(client) == (before[0] + Decimal("1000") + imported, before[1] + Decimal("1000") + imported)


def test_a_dispute_credit_is_seen_on_the_next_request(client, world, django_capture_on_commit_callbacks):
    from django.contrib.auth.models import Permission

    from disputes.models import DisputeReason
    from disputes.services import Decision, DisputeItemInput, dispute_decide, dispute_file
    from tests.accounts.factories import UserFactory

    from .conftest import add_lines

    disputed = add_lines(InvoiceFactory(account=world.account_a, invoice_date=_days(-3), due_date=_days(27)))
    freight = disputed.lines.filter(kind=LineKind.SHIPMENT).first()
    staff = UserFactory(username="billing_staff", is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="disputes", codename__in=["view_dispute", "change_dispute"])
    )
    dispute = dispute_file(
        invoice=disputed,
        items=[DisputeItemInput(line_id=freight.id, reason=DisputeReason.WEIGHT, amount=Decimal("9000"))],
        actor=world.admin,
    )
    before = _warm_and_freeze(client, world, disputed)

    with django_capture_on_commit_callbacks(execute=True):
        dispute_decide(dispute=dispute, decision=Decision.APPROVE, actor=staff)

    assert _figures(client) == (
        before[0] + Decimal("1000") - Decimal("9000"),
        before[1] + Decimal("1000") - Decimal("9000"),
    )


def _add_account_post(client, world, invoice):
    from django.urls import reverse

    from tests.accounts.conftest import invoice_values

    return client.post(reverse("manage:account_add") + f"?company={world.company.pk}", invoice_values(invoice))


def test_an_account_added_to_the_company_is_seen_on_the_next_request(client, world):
    from tests.accounts.factories import ShippingAccountFactory

    kept = InvoiceFactory(account=world.account_a, total=Decimal("50000"))
    newcomer = ShippingAccountFactory(company=None, number="NEW777")
    recent = InvoiceFactory(account=newcomer, total=Decimal("21000"), invoice_date=_days(-3), due_date=_days(27))
    before = _warm_and_freeze(client, world, kept)

    response = _add_account_post(client, world, recent)

    assert response.status_code == 302
    newcomer.refresh_from_db()
    assert newcomer.company == world.company
    assert _figures(client) == (before[0] + Decimal("22000"), before[1] + Decimal("22000"))


def test_an_account_removed_from_the_company_is_gone_from_the_next_request(client, world):
    from django.urls import reverse

    kept = InvoiceFactory(account=world.account_a, total=Decimal("50000"))
    InvoiceFactory(account=world.account_b, total=Decimal("21000"))
    before = _warm_and_freeze(client, world, kept)

    response = client.post(reverse("manage:account_remove", args=[world.account_b.number]))

    assert response.status_code == 302
    world.account_b.refresh_from_db()
    assert world.account_b.company is None
    assert _figures(client) == (
        before[0] + Decimal("1000") - Decimal("21000"),
        before[1] + Decimal("1000") - Decimal("21000"),
    )


def test_a_payment_made_while_an_account_was_out_of_the_company_is_seen_when_it_comes_back(
    client, world, settings, django_capture_on_commit_callbacks
):
    """Removed, paid through Pay Now (no company to bump), added again within the minute: the
    scope is the same as before the removal, so only a version bump keeps the old figures away."""
    from django.test import Client
    from django.urls import reverse

    from tests.payments.test_pay_now import confirm, details, lookup

    settings.PAYMENT_GATEWAY = "simulated"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

    InvoiceFactory(account=world.account_a, total=Decimal("50000"))
    owed = InvoiceFactory(account=world.account_b, total=Decimal("21000"), invoice_date=_days(-3), due_date=_days(27))
    client.force_login(world.admin)
    before = _figures(client)

    assert client.post(reverse("manage:account_remove", args=[world.account_b.number])).status_code == 302
    assert _figures(client) == (before[0] - Decimal("21000"), before[1] - Decimal("21000"))
    guest = Client(HTTP_ACCEPT_LANGUAGE="en")
    assert lookup(guest, account=world.account_b.number, number=owed.number, amount="21,000").status_code == 302
    assert details(guest).status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        confirm(guest)
    owed.refresh_from_db()
    assert owed.balance == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert _add_account_post(client, world, owed).status_code == 302

    assert _figures(client) == (before[0] - Decimal("21000"), before[1] - Decimal("21000"))
