"""Print fees (R13-R16) around 2024-12-20 and 2024-12-29, paperless accounts, and late fees once only."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import AuditEvent, InvoiceDelivery, Role
from disputes.models import Dispute, DisputeStatus
from invoices.fees import fees_assess, late_fee_assess, print_fee_assess
from invoices.formats.csv import invoices_csv_bytes
from invoices.formats.xml import invoice_schema, invoice_xml_bytes
from invoices.models import Invoice, InvoiceLine, LineKind
from tests.accounts.factories import MembershipFactory, ShippingAccountFactory
from tests.invoices.factories import InvoiceFactory, InvoiceLineFactory

pytestmark = pytest.mark.django_db


def paper_account(**kwargs):
    return ShippingAccountFactory(invoice_delivery=InvoiceDelivery.PAPER, paperless_since=None, **kwargs)


def invoice_on(account, day: datetime.date, total="100000", **kwargs) -> Invoice:
    invoice = InvoiceFactory(
        account=account, invoice_date=day, due_date=day + datetime.timedelta(days=30), total=Decimal(total), **kwargs
    )
    InvoiceLineFactory(invoice=invoice, amount=Decimal(total))
    return invoice


def fee_lines(invoice):
    return list(invoice.lines.filter(kind=LineKind.PRINT_FEE))


# --- Print fee ---------------------------------------------------------------------------------


def test_a_paper_invoice_dated_2024_12_29_carries_the_13000_won_print_fee():
    invoice = invoice_on(paper_account(), datetime.date(2024, 12, 29))

    line = print_fee_assess(invoice=invoice)

    invoice.refresh_from_db()
    assert line.amount == Decimal("13000")
    assert line.description == "청구서 인쇄 수수료"
    assert invoice.total == Decimal("113000")
    assert invoice.balance == Decimal("113000")
    assert AuditEvent.objects.filter(action="invoice.print_fee_added", target_id=str(invoice.pk)).exists()


def test_a_paper_invoice_dated_2024_12_28_carries_no_print_fee():
    invoice = invoice_on(paper_account(), datetime.date(2024, 12, 28))

    assert print_fee_assess(invoice=invoice) is None

    invoice.refresh_from_db()
    assert invoice.total == Decimal("100000")
    assert fee_lines(invoice) == []


def test_an_account_enrolled_by_2024_12_20_pays_no_fee_on_later_invoices():
    account = ShippingAccountFactory(
        invoice_delivery=InvoiceDelivery.PAPERLESS, paperless_since=datetime.date(2024, 12, 20)
    )
    invoice = invoice_on(account, datetime.date(2024, 12, 29))

    assert print_fee_assess(invoice=invoice) is None
    assert fee_lines(invoice) == []


def test_an_already_paperless_account_pays_no_fee():
    account = ShippingAccountFactory(invoice_delivery=InvoiceDelivery.PAPERLESS, paperless_since=None)
    invoice = invoice_on(account, datetime.date(2025, 6, 1))

    assert print_fee_assess(invoice=invoice) is None


def test_an_invoice_issued_on_paper_before_enrolment_keeps_its_fee_rule():
    """Enrolled on 2025-01-10: the invoice of 2025-01-05 was issued on paper and carries the fee."""
    account = ShippingAccountFactory(
        invoice_delivery=InvoiceDelivery.PAPERLESS, paperless_since=datetime.date(2025, 1, 10)
    )
    before = invoice_on(account, datetime.date(2025, 1, 5))
    after = invoice_on(account, datetime.date(2025, 1, 10))

    assert print_fee_assess(invoice=before) is not None
    assert print_fee_assess(invoice=after) is None


def test_the_print_fee_is_never_charged_twice():
    invoice = invoice_on(paper_account(), datetime.date(2025, 2, 1))

    first = print_fee_assess(invoice=invoice)
    second = print_fee_assess(invoice=invoice)

    invoice.refresh_from_db()
    assert first is not None and second is None
    assert len(fee_lines(invoice)) == 1
    assert invoice.total == Decimal("113000")


def test_the_us_fee_is_five_dollars_from_2025_03_31_and_configurable(settings):
    account = paper_account(country="US", currency="USD")
    early = invoice_on(account, datetime.date(2025, 3, 30), total="100.00")
    late = invoice_on(account, datetime.date(2025, 3, 31), total="100.00")

    assert print_fee_assess(invoice=early) is None
    line = print_fee_assess(invoice=late)
    assert line.amount == Decimal("5.00")
    assert line.description == "Invoice print fee"

    settings.PRINT_FEES = {
        **settings.PRINT_FEES,
        "US": {"amount": "7.50", "currency": "USD", "effective": "2025-03-01"},
    }
    assert print_fee_assess(invoice=early).amount == Decimal("7.50")


def test_the_print_fee_shows_in_the_pdf_csv_and_xml(client):
    account = paper_account(xml_enrolled=True)
    invoice = invoice_on(account, datetime.date(2025, 1, 2))
    print_fee_assess(invoice=invoice)
    invoice = Invoice.objects.prefetch_related("lines__shipment").select_related("account").get(pk=invoice.pk)

    csv_text = invoices_csv_bytes([invoice]).decode("utf-8-sig")
    xml = invoice_xml_bytes(invoice)

    assert "청구서 인쇄 수수료" in csv_text
    assert "print_fee" in csv_text
    assert b"<PrintFee>13000</PrintFee>" in xml
    from lxml import etree

    assert invoice_schema().validate(etree.fromstring(xml))
    user = MembershipFactory(company=account.company, role=Role.ADMINISTRATOR).user
    client.force_login(user)
    detail = client.get(reverse("invoices:detail", args=[invoice.number]))
    assert "청구서 인쇄 수수료" in detail.content.decode()


def test_the_daily_job_adds_missing_print_fees_once(settings):
    import time_machine

    account = paper_account()
    invoice = invoice_on(account, datetime.date(2025, 1, 2))
    paperless = invoice_on(ShippingAccountFactory(), datetime.date(2025, 1, 2))

    with time_machine.travel(datetime.datetime(2025, 1, 3, 6, 0, tzinfo=datetime.UTC), tick=False):
        first = fees_assess()
        second = fees_assess()

    assert first["print_fee"] == 1
    assert second["print_fee"] == 0
    assert len(fee_lines(invoice)) == 1
    assert fee_lines(paperless) == []


# --- Late fee ----------------------------------------------------------------------------------


def test_the_late_fee_is_posted_once_after_the_configured_days():
    account = ShippingAccountFactory()
    invoice = invoice_on(account, datetime.date(2026, 1, 1), total="500000")  # due 2026-01-31
    Invoice.objects.filter(pk=invoice.pk).update(amount_paid=Decimal("100000"))

    assert late_fee_assess(invoice=invoice, today=datetime.date(2026, 2, 13)) is None  # 13 days after
    line = late_fee_assess(invoice=invoice, today=datetime.date(2026, 2, 14))
    again = late_fee_assess(invoice=invoice, today=datetime.date(2026, 3, 1))

    invoice.refresh_from_db()
    assert line.amount == Decimal("8000")  # 2% of the 400,000 past due
    assert line.description == "연체 요금"
    assert again is None
    assert invoice.lines.filter(kind=LineKind.LATE_FEE).count() == 1
    assert invoice.total == Decimal("508000")
    assert AuditEvent.objects.filter(action="invoice.late_fee_added").count() == 1


def test_the_late_fee_has_a_minimum_and_follows_country_settings(settings):
    settings.LATE_FEES = {"KR": {"rate": "0.05", "minimum": "9000", "currency": "KRW", "days_after_due": 1}}
    invoice = invoice_on(ShippingAccountFactory(), datetime.date(2026, 1, 1), total="20000")

    line = late_fee_assess(invoice=invoice, today=datetime.date(2026, 2, 1))

    assert line.amount == Decimal("9000")


def test_no_late_fee_on_a_paid_or_disputed_invoice():
    account = ShippingAccountFactory()
    paid = invoice_on(account, datetime.date(2026, 1, 1))
    Invoice.objects.filter(pk=paid.pk).update(amount_paid=F_total())
    disputed = invoice_on(account, datetime.date(2026, 1, 1))
    user = MembershipFactory(company=account.company).user
    Dispute.objects.create(
        reference="DSP000000777",
        company=account.company,
        invoice=disputed,
        filed_by=user,
        status=DisputeStatus.SUBMITTED,
    )

    assert late_fee_assess(invoice=paid, today=datetime.date(2026, 3, 1)) is None
    assert late_fee_assess(invoice=disputed, today=datetime.date(2026, 3, 1)) is None
    assert not InvoiceLine.objects.filter(kind=LineKind.LATE_FEE).exists()


def test_the_daily_job_posts_late_fees_once_per_invoice():
    invoice = invoice_on(ShippingAccountFactory(), datetime.date(2026, 1, 1))

    first = fees_assess(today=datetime.date(2026, 2, 20))
    second = fees_assess(today=datetime.date(2026, 2, 21))

    assert first["late_fee"] == 1
    assert second["late_fee"] == 0
    assert invoice.lines.filter(kind=LineKind.LATE_FEE).count() == 1


def F_total():  # noqa: N802 - reads like the F() it returns
    from django.db.models import F

    return F("total")
