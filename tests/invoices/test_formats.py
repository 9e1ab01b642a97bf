"""The formats themselves: XML against the XSD, CSV encoding and injection, the PDF's font and text."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from decimal import Decimal

import pytest
from lxml import etree

from invoices.formats.csv import invoices_csv_bytes, neutralise
from invoices.formats.xml import NAMESPACE, invoice_schema, invoice_xml_bytes
from invoices.models import InvoiceDocument, LineKind
from invoices.selectors import invoice_list_for_export
from invoices.services import invoice_document_get, invoice_pdf_bytes
from tests.invoices.factories import InvoiceFactory, InvoiceLineFactory, ShipmentFactory

from .conftest import add_lines


def _load(world, invoice):
    return invoice_list_for_export(user=world.admin, numbers=[invoice.number]).get()


# --- XML ------------------------------------------------------------------------------------


def test_xml_of_an_account_invoice_is_valid_against_the_xsd(world):
    invoice = _load(world, add_lines(InvoiceFactory(account=world.account_a), print_fee=True))
    document = etree.fromstring(invoice_xml_bytes(invoice))
    invoice_schema().assertValid(document)
    ns = {"i": NAMESPACE}
    assert document.tag == f"{{{NAMESPACE}}}Invoice"
    assert document.findtext("i:Number", namespaces=ns) == invoice.number
    assert document.findtext("i:Billed/i:Number", namespaces=ns) == world.account_a.number
    assert document.findtext("i:Billed/i:PlanNumber", namespaces=ns) == world.plan.number
    assert document.findtext("i:Summary/i:PrintFee", namespaces=ns) == "13000"
    lines = document.findall("i:Lines/i:Line", namespaces=ns)
    assert len(lines) == invoice.lines.count()
    amounts = sum(Decimal(line.findtext("i:Amount", namespaces=ns)) for line in lines)
    assert amounts == invoice.total
    assert Decimal(document.findtext("i:Summary/i:Total", namespaces=ns)) == invoice.total


def test_xml_of_a_plan_invoice_with_credits_and_odd_text_is_valid(world):
    invoice = InvoiceFactory(account=None, plan=world.plan, currency="KRW")
    InvoiceLineFactory(
        invoice=invoice, kind=LineKind.ADJUSTMENT, description='<credit> & "refund" ✓', amount=Decimal("-5000")
    )
    InvoiceLineFactory(invoice=invoice, kind=LineKind.LATE_FEE, description="연체 요금", amount=Decimal("3000"))
    document = etree.fromstring(invoice_xml_bytes(_load(world, invoice)))
    invoice_schema().assertValid(document)
    ns = {"i": NAMESPACE}
    assert document.find("i:Billed", namespaces=ns).get("type") == "plan"
    assert document.findtext("i:Lines/i:Line/i:Description", namespaces=ns) == '<credit> & "refund" ✓'


def test_the_xsd_rejects_a_document_that_breaks_the_format(world):
    invoice = _load(world, add_lines(InvoiceFactory(account=world.account_a)))
    document = etree.fromstring(invoice_xml_bytes(invoice))
    document.find(f"{{{NAMESPACE}}}Currency").text = "won"
    assert not invoice_schema().validate(document)


# --- CSV ------------------------------------------------------------------------------------


def _rows(data: bytes) -> list[list[str]]:
    assert data.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_csv_has_a_bom_a_header_and_one_row_per_line_with_invoice_fields(world):
    first = _load(world, add_lines(InvoiceFactory(account=world.account_a), shipments=2))
    second = _load(world, add_lines(InvoiceFactory(account=world.account_b), shipments=1, print_fee=True))
    rows = _rows(invoices_csv_bytes([first, second]))
    header, body = rows[0], rows[1:]
    assert header[0] == "Invoice number" and header[-1] == "Amount"
    assert len(body) == first.lines.count() + second.lines.count()
    assert {row[0] for row in body} == {first.number, second.number}
    by_invoice = {}
    for row in body:
        by_invoice.setdefault(row[0], []).append(Decimal(row[-1]))
    assert sum(by_invoice[first.number]) == first.total
    assert "청구서 인쇄 수수료" in [row[14] for row in body]
    tracking = {row[15] for row in body if row[15]}
    assert tracking == set(
        first.lines.exclude(shipment=None).values_list("shipment__tracking_number", flat=True)
    ) | set(second.lines.exclude(shipment=None).values_list("shipment__tracking_number", flat=True))


@pytest.mark.parametrize("payload", ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"])
def test_csv_neutralises_text_cells_that_a_spreadsheet_would_run(world, payload):
    invoice = InvoiceFactory(account=world.account_a)
    shipment = ShipmentFactory(account=world.account_a, reference=payload, destination=payload)
    InvoiceLineFactory(invoice=invoice, shipment=shipment, description=payload, amount=Decimal("-5000"))
    row = _rows(invoices_csv_bytes([_load(world, invoice)]))[1]
    description, destination, reference, amount = row[14], row[20], row[21], row[23]
    assert row[22] == world.account_a.number
    for cell in (description, destination, reference):
        assert cell == "'" + payload
    # Amounts are numbers written by the portal: a credit keeps its minus sign.
    assert amount == "-5000"


def test_neutralise_leaves_ordinary_text_alone():
    assert neutralise("운송 요금") == "운송 요금"
    assert neutralise("PO-123") == "PO-123"
    assert neutralise(None) == ""


# --- PDF ------------------------------------------------------------------------------------

needs_poppler = pytest.mark.skipif(not shutil.which("pdffonts"), reason="poppler-utils not installed")


@needs_poppler
def test_pdf_embeds_a_korean_font_and_shows_the_print_fee(world, tmp_path):
    invoice = _load(world, add_lines(InvoiceFactory(account=world.account_a), print_fee=True))
    pdf = tmp_path / "invoice.pdf"
    pdf.write_bytes(invoice_pdf_bytes(invoice=invoice, language="en"))
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    nanum = [line for line in fonts.splitlines() if "Nanum" in line]
    assert nanum, fonts
    assert all(line.split()[-5] == "yes" for line in nanum)  # the "emb" column
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "Invoice print fee" in text
    assert "청구서 인쇄 수수료" in text  # the line's description, in Hangul
    assert invoice.number in text and invoice.control_id in text
    assert "Page 1 / " in text


def test_pdf_is_rendered_once_per_version_and_again_when_lines_change(world, monkeypatch):
    invoice = _load(world, add_lines(InvoiceFactory(account=world.account_a)))
    calls = []
    import invoices.services as services

    real = services.render_invoice_pdf
    monkeypatch.setattr(services, "render_invoice_pdf", lambda *a, **k: calls.append(k) or real(*a, **k))
    first = invoice_document_get(invoice=invoice, language="ko")
    again = invoice_document_get(invoice=_load(world, invoice), language="ko")
    assert first.pk == again.pk and first.version == 1
    assert len(calls) == 1
    InvoiceLineFactory(invoice=invoice, kind=LineKind.LATE_FEE, description="연체 요금", amount=Decimal("5000"))
    changed = invoice_document_get(invoice=_load(world, invoice), language="ko")
    assert changed.version == 2
    assert len(calls) == 2
    english = invoice_document_get(invoice=_load(world, invoice), language="en")
    assert english.version == 2 and english.language == "en"
    assert InvoiceDocument.objects.filter(invoice=invoice).count() == 3


# --- ZIP ------------------------------------------------------------------------------------


def test_zip_is_streamed_member_by_member_and_valid():
    import zipfile

    from invoices.formats.archive import stream_zip

    members = [(f"INV{n}.xml", f"<x>{n}</x>".encode() * 1000) for n in range(3)]
    produced = []

    def lazy():
        for member in members:
            produced.append(member[0])
            yield member

    chunks = stream_zip(lazy())
    first = next(chunks)
    assert first.startswith(b"PK") and produced == ["INV0.xml"]  # sent before the next member is made
    data = first + b"".join(chunks)
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    assert [archive.read(name) for name in archive.namelist()] == [content for _, content in members]


def test_csv_gives_an_invoice_without_lines_one_row_of_header_fields(world):
    invoice = InvoiceFactory(account=world.account_a)
    rows = _rows(invoices_csv_bytes([_load(world, invoice)]))
    assert len(rows) == 2
    assert rows[1][0] == invoice.number and rows[1][-1] == ""
    assert len(rows[1]) == len(rows[0])


@needs_poppler
def test_korean_pdf_labels_the_print_fee_line_in_korean(world, tmp_path):
    invoice = InvoiceFactory(account=world.account_a)
    InvoiceLineFactory(
        invoice=invoice, kind=LineKind.PRINT_FEE, description="Paper invoice 2026-11", amount=Decimal("13000")
    )
    pdf = tmp_path / "invoice.pdf"
    pdf.write_bytes(invoice_pdf_bytes(invoice=_load(world, invoice), language="ko"))
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "청구서 인쇄 수수료" in text  # R16: the line's label, from the Korean catalogue
    assert "Paper invoice 2026-11" in text
