"""Stored PDFs served from MEDIA_ROOT and bulk ZIPs of them (issue 8): cheap, never stale."""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import Role
from invoices.models import InvoiceDocument, LineKind
from invoices.selectors import invoice_list_for_export
from invoices.services import export_members
from tests.accounts.factories import MembershipFactory
from tests.invoices.factories import InvoiceFactory, InvoiceLineFactory

from .conftest import add_lines


def _pdf(client, number, **params):
    response = client.get(reverse("invoices:pdf", args=[number]), params)
    assert response.status_code == 200, response.status_code
    return response, b"".join(response.streaming_content)


def _no_rendering(monkeypatch):
    import invoices.services as services

    def refuse(*args, **kwargs):
        raise AssertionError("rendered again")

    monkeypatch.setattr(services, "render_invoice_pdf", refuse)


def test_stored_pdf_is_streamed_without_rendering_in_five_queries(
    client, world, monkeypatch, django_assert_max_num_queries
):
    invoice = add_lines(InvoiceFactory(account=world.account_a), print_fee=True)
    client.force_login(world.viewer)
    _, first = _pdf(client, invoice.number)
    _no_rendering(monkeypatch)
    # Session, user, the invoice with the user's role, its lines, its stored versions.
    with django_assert_max_num_queries(5):
        response, again = _pdf(client, invoice.number)
    assert again == first and again.startswith(b"%PDF")
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Length"] == str(len(again))
    assert response["Content-Disposition"] == f'attachment; filename="{invoice.number}.pdf"'


def test_pdf_inline_keeps_the_file_name(client, world):
    invoice = add_lines(InvoiceFactory(account=world.account_a))
    client.force_login(world.admin)
    response, content = _pdf(client, invoice.number, inline="1")
    assert response["Content-Disposition"] == f'inline; filename="{invoice.number}.pdf"'
    assert content.startswith(b"%PDF")


@pytest.mark.parametrize("change", ["line added", "line amount", "shipment reference", "account name"])
def test_pdf_download_serves_a_new_version_once_the_invoice_changes(client, world, settings, change):
    invoice = add_lines(InvoiceFactory(account=world.account_a))
    client.force_login(world.viewer)
    _, first = _pdf(client, invoice.number)
    _, unchanged = _pdf(client, invoice.number)
    assert unchanged == first
    line = invoice.lines.exclude(shipment=None).first()
    if change == "line added":
        InvoiceLineFactory(invoice=invoice, kind=LineKind.LATE_FEE, description="연체 요금", amount=Decimal("5000"))
    elif change == "line amount":
        line.amount += 1
        line.save()
    elif change == "shipment reference":
        line.shipment.reference = "PO-CHANGED"
        line.shipment.save()
    else:
        world.account_a.name = "서울 센터 (이전)"
        world.account_a.save()
    _, second = _pdf(client, invoice.number)
    assert second != first and second.startswith(b"%PDF")
    assert InvoiceDocument.objects.filter(invoice=invoice).order_by("-version").first().version == 2
    assert (settings.MEDIA_ROOT / "invoices" / invoice.number / "v2-en.pdf").read_bytes() == second


def test_plan_invoice_pdf_for_a_user_scoped_to_the_plan_only(client, world):
    plan_viewer = MembershipFactory(company=world.company, role=Role.VIEWER, plans=[world.plan]).user
    plan_invoice = add_lines(InvoiceFactory(account=None, plan=world.plan))
    account_invoice = add_lines(InvoiceFactory(account=world.account_b))
    client.force_login(plan_viewer)
    _, content = _pdf(client, plan_invoice.number)
    assert content.startswith(b"%PDF")
    for name in ("invoices:pdf", "invoices:csv", "invoices:xml"):
        assert client.get(reverse(name, args=[account_invoice.number])).status_code == 404
        assert client.get(reverse(name, args=[world.foreign.number])).status_code == 404


def test_bulk_zip_stores_pdfs_as_they_are_with_complete_local_headers(client, world):
    invoices = [add_lines(InvoiceFactory(account=world.account_a)) for _ in range(2)]
    client.force_login(world.admin)
    data = {"format": "pdf", "kind": "account", "invoice": [i.number for i in invoices], "query": ""}
    response = client.post(reverse("invoices:bulk_download"), data)
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.testzip() is None
    for info in archive.infolist():
        assert info.compress_type == zipfile.ZIP_STORED  # a PDF is compressed already
        assert not info.flag_bits & 0x08  # sizes and CRC in the local header: no data descriptor
        assert archive.read(info).startswith(b"%PDF")


def test_zip_deflates_text_members_and_stores_pdfs():
    from invoices.formats.archive import stream_zip

    members = [("a.xml", b"<x>1</x>" * 500), ("b.pdf", b"%PDF-1.7 " * 500), ("empty.xml", b"")]
    archive = zipfile.ZipFile(io.BytesIO(b"".join(stream_zip(iter(members)))))
    kinds = {info.filename: (info.compress_type, info.flag_bits & 0x08) for info in archive.infolist()}
    assert kinds == {
        "a.xml": (zipfile.ZIP_DEFLATED, 0),
        "b.pdf": (zipfile.ZIP_STORED, 0),
        "empty.xml": (zipfile.ZIP_DEFLATED, 0),
    }
    assert [archive.read(name) for name, _ in members] == [content for _, content in members]


def test_bulk_pdfs_read_every_stored_version_in_one_query(world, django_assert_num_queries):
    numbers = [add_lines(InvoiceFactory(account=world.account_a)).number for _ in range(4)]

    def members():
        invoices = list(invoice_list_for_export(user=world.admin, numbers=numbers))
        return export_members(invoices=invoices, format="pdf", language="ko")

    rendered = dict(members())  # renders and stores all four
    assert InvoiceDocument.objects.filter(invoice__number__in=numbers).count() == 4
    stored = members()
    with django_assert_num_queries(1):
        assert dict(stored) == rendered


@pytest.mark.parametrize("view", ["invoices:pdf", "invoices:csv", "invoices:xml"])
def test_downloads_follow_the_scope_of_each_company_a_user_belongs_to(client, world, view):
    """A Viewer of one account in our company who administers another company: our other
    account's invoices are not found, and neither are the first account's once unassigned."""
    from tests.accounts.factories import CompanyFactory, ShippingAccountFactory

    other_company = CompanyFactory()
    their_account = ShippingAccountFactory(company=other_company, xml_enrolled=True)
    membership = MembershipFactory(company=world.company, role=Role.VIEWER, accounts=[world.account_a])
    MembershipFactory(user=membership.user, company=other_company, role=Role.ADMINISTRATOR)
    mine = add_lines(InvoiceFactory(account=world.account_a))
    not_mine = add_lines(InvoiceFactory(account=world.account_b))
    theirs = add_lines(InvoiceFactory(account=their_account))
    client.force_login(membership.user)

    def status(invoice):
        return client.get(reverse(view, args=[invoice.number])).status_code

    assert status(mine) == 200  # account_a is XML-enrolled in the world
    assert status(theirs) == 200
    assert status(not_mine) == 404
    membership.accounts.remove(world.account_a)
    assert status(mine) == 404
    assert status(theirs) == 200
