"""``manage.py import_invoices``: the portal's XML and CSV, all or nothing, idempotent, print fees, notices."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import TestCase

from accounts.models import InvoiceDelivery, JobRun, Role
from invoices.formats.csv import invoices_csv_bytes
from invoices.formats.xml import invoice_xml_bytes
from invoices.imports import ImportRefused, invoices_import
from invoices.models import Invoice, LineKind, Shipment
from tests.accounts.factories import MembershipFactory

from .conftest import add_lines

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def exported(invoice: Invoice, fmt: str, *, rename: dict[str, str]) -> bytes:
    """The portal's own export of ``invoice``, with numbers renamed so it imports as a new invoice."""
    invoice = (
        Invoice.objects.prefetch_related("lines__shipment__account")
        .select_related("account__plan", "plan", "account__company")
        .get(pk=invoice.pk)
    )
    data = invoice_xml_bytes(invoice) if fmt == "xml" else invoices_csv_bytes([invoice])
    for old, new in rename.items():
        data = data.replace(old.encode(), new.encode())
    return data


@pytest.fixture
def paper(world):
    world.account_b.invoice_delivery = InvoiceDelivery.PAPER
    world.account_b.paperless_since = None
    world.account_b.save()
    return world.account_b


@pytest.fixture
def source(world, paper):
    """An invoice of the paper account with two shipments, exported then renamed (1Z…→1Y is avoided)."""
    from tests.invoices.factories import InvoiceFactory

    invoice = add_lines(
        InvoiceFactory(
            account=paper,
            number="SRC000000001",
            invoice_date=datetime.date(2026, 11, 2),
            due_date=datetime.date(2026, 12, 2),
        )
    )
    return invoice


def _rename(invoice, number, start=7000):
    """New invoice number and new tracking numbers (…7000, …7001, …): the file describes new parcels."""
    renames = {invoice.number: number}
    shipments = Shipment.objects.filter(lines__invoice=invoice).distinct().order_by("tracking_number")
    for index, shipment in enumerate(shipments):
        renames[shipment.tracking_number] = shipment.tracking_number[:-4] + f"{index + start:04d}"
    return renames


def test_an_xml_invoice_is_imported_with_lines_shipments_and_the_print_fee(world, source):
    data = exported(source, "xml", rename=_rename(source, "IMP000000001"))

    with TestCase.captureOnCommitCallbacks(execute=True):
        result = invoices_import(data=data, name="IMP000000001.xml")

    assert result.created == ["IMP000000001"]
    invoice = Invoice.objects.get(number="IMP000000001")
    assert invoice.account == source.account
    assert invoice.lines.filter(kind=LineKind.SHIPMENT).count() == source.lines.filter(kind=LineKind.SHIPMENT).count()
    fee = invoice.lines.get(kind=LineKind.PRINT_FEE)
    assert fee.description == "청구서 인쇄 수수료"
    assert invoice.total == source.total + Decimal("13000")
    assert Shipment.objects.filter(tracking_number__endswith="7000").exists()


def test_the_same_file_twice_changes_nothing(world, source):
    data = exported(source, "xml", rename=_rename(source, "IMP000000002"))
    invoices_import(data=data, name="a.xml")
    before = (Invoice.objects.count(), Shipment.objects.count(), Invoice.objects.get(number="IMP000000002").total)

    result = invoices_import(data=data, name="a.xml")

    assert result.created == []
    assert result.unchanged == ["IMP000000002"]
    after = (Invoice.objects.count(), Shipment.objects.count(), Invoice.objects.get(number="IMP000000002").total)
    assert after == before


def test_a_csv_with_two_invoices_is_imported_and_is_idempotent(world, source):
    from tests.invoices.factories import InvoiceFactory

    second = add_lines(InvoiceFactory(account=world.account_a, number="SRC000000002"), shipments=1)
    data = exported(source, "csv", rename=_rename(source, "IMP000000003")) + b""
    other = exported(second, "csv", rename=_rename(second, "IMP000000004", start=8000))
    data = data + other.decode("utf-8-sig").split("\r\n", 1)[1].encode()  # rows without a second header

    first = invoices_import(data=data, name="batch.csv")
    again = invoices_import(data=data, name="batch.csv")

    assert sorted(first.created) == ["IMP000000003", "IMP000000004"]
    assert first.print_fees == 1  # only the paper account's invoice
    assert sorted(again.unchanged) == ["IMP000000003", "IMP000000004"]
    assert again.created == []


def test_a_bad_csv_is_refused_whole_with_line_numbers(world, source):
    data = exported(source, "csv", rename=_rename(source, "IMP000000005")).decode("utf-8-sig")
    lines = data.split("\r\n")
    bad = lines[2].replace(source.account.number, "ZZZZZ9", 1)  # an unknown account on line 3
    broken = "\r\n".join([lines[0], lines[1], bad, *lines[3:]]).encode()

    with pytest.raises(ImportRefused) as refused:
        invoices_import(data=broken, name="bad.csv")

    assert any(error.startswith("line 3:") for error in refused.value.errors), refused.value.errors
    assert not Invoice.objects.filter(number="IMP000000005").exists()


def test_a_csv_with_a_wrong_amount_is_refused_with_its_line(world, source):
    data = exported(source, "csv", rename=_rename(source, "IMP000000006")).decode("utf-8-sig")
    lines = data.split("\r\n")
    lines[2] = lines[2].rsplit(",", 1)[0] + ",twelve"
    with pytest.raises(ImportRefused) as refused:
        invoices_import(data="\r\n".join(lines).encode(), name="bad.csv")

    assert "line 3: Amount is not a number: 'twelve'" in refused.value.errors
    assert not Invoice.objects.filter(number="IMP000000006").exists()


def test_an_xml_file_not_valid_against_the_schema_is_refused_with_its_line(world, source):
    data = exported(source, "xml", rename=_rename(source, "IMP000000007"))
    data = data.replace(b"<Currency>KRW</Currency>", b"<Currency>won</Currency>")

    with pytest.raises(ImportRefused) as refused:
        invoices_import(data=data, name="bad.xml")

    assert refused.value.errors[0].startswith("line ")
    assert "Currency" in refused.value.errors[0]
    assert not Invoice.objects.filter(number="IMP000000007").exists()


def test_a_total_that_is_not_the_sum_of_the_lines_is_refused(world, source):
    data = exported(source, "xml", rename=_rename(source, "IMP000000008"))
    total = str(int(source.total)).encode()
    data = data.replace(b"<Total>" + total + b"</Total>", b"<Total>1</Total>")

    with pytest.raises(ImportRefused) as refused:
        invoices_import(data=data, name="bad.xml")

    assert any("is not the sum of its lines" in error for error in refused.value.errors)


def test_an_existing_invoice_number_with_other_values_is_refused(world, source):
    data = exported(source, "xml", rename=_rename(source, "IMP000000009"))
    invoices_import(data=data, name="a.xml")
    changed = data.replace(b"<DueDate>2026-12-02</DueDate>", b"<DueDate>2026-12-09</DueDate>")

    with pytest.raises(ImportRefused) as refused:
        invoices_import(data=changed, name="a.xml")

    assert any("already exists with other values" in error for error in refused.value.errors)
    assert Invoice.objects.get(number="IMP000000009").due_date == datetime.date(2026, 12, 2)


def test_users_who_asked_for_notices_are_e_mailed_about_new_invoices(world, source):
    wants = MembershipFactory(company=world.company, role=Role.VIEWER, accounts=[world.account_b]).user
    opted_out = MembershipFactory(
        company=world.company, role=Role.VIEWER, accounts=[world.account_b], notify_new_invoices=False
    ).user
    other_scope = world.viewer  # sees account a only
    data = exported(source, "xml", rename=_rename(source, "IMP000000010"))

    with TestCase.captureOnCommitCallbacks(execute=True):
        invoices_import(data=data, name="new.xml")

    recipients = {address for message in mail.outbox for address in message.to}
    assert wants.email in recipients
    assert world.admin.email in recipients
    assert opted_out.email not in recipients
    assert other_scope.email not in recipients
    assert "/invoices/IMP000000010/" in mail.outbox[0].body


def test_the_command_imports_prints_a_summary_and_records_the_run(world, source, tmp_path, capsys):
    path = tmp_path / "one.xml"
    path.write_bytes(exported(source, "xml", rename=_rename(source, "IMP000000011")))

    call_command("import_invoices", str(path))

    out = capsys.readouterr().out
    assert "created IMP000000011" in out
    run = JobRun.objects.get(job="import_invoices")
    assert run.status == JobRun.Status.SUCCEEDED
    assert run.counts["created"] == 1
    assert run.finished_at is not None


def test_the_command_refuses_a_bad_file_prints_the_errors_and_records_them(world, source, tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("not,a,billing,centre,file\n1,2,3,4,5\n", encoding="utf-8")

    with pytest.raises(CommandError, match="nothing imported"):
        call_command("import_invoices", str(path))

    assert "line 1:" in capsys.readouterr().err
    run = JobRun.objects.get(job="import_invoices")
    assert run.status == JobRun.Status.FAILED
    assert any("line 1:" in error for error in run.errors)
    assert Invoice.objects.filter(number__startswith="IMP").count() == 0
