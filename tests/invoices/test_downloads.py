"""Single-invoice formats, bulk ZIPs and export jobs through the views: scope first, always."""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse
from lxml import etree

from accounts.models import AuditEvent
from invoices.formats.xml import invoice_schema
from invoices.models import ExportJob, Invoice
from invoices.services import BULK_SYNC_LIMIT
from tests.accounts.factories import UserFactory
from tests.invoices.factories import InvoiceFactory

from .conftest import add_lines

FORMAT_URLS = ["invoices:detail", "invoices:print", "invoices:pdf", "invoices:csv", "invoices:xml"]


@pytest.fixture
def ours(world):
    return add_lines(InvoiceFactory(account=world.account_a), print_fee=True)


def _zip(response) -> zipfile.ZipFile:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return zipfile.ZipFile(io.BytesIO(content))


@pytest.mark.parametrize("name", FORMAT_URLS)
def test_every_invoice_page_and_format_answers_404_outside_scope(client, world, ours, name):
    client.force_login(world.outsider)
    assert client.get(reverse(name, args=[ours.number])).status_code == 404
    client.force_login(world.viewer)
    other_account = add_lines(InvoiceFactory(account=world.account_b))
    assert client.get(reverse(name, args=[other_account.number])).status_code == 404
    assert client.get(reverse(name, args=["NO-SUCH-INVOICE"])).status_code == 404


@pytest.mark.parametrize("name", FORMAT_URLS)
def test_every_invoice_page_and_format_needs_a_login(client, ours, name):
    response = client.get(reverse(name, args=[ours.number]))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_pdf_download_is_a_stored_pdf_attachment(client, world, ours, settings):
    client.force_login(world.viewer)
    response = client.get(reverse("invoices:pdf", args=[ours.number]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{ours.number}.pdf"'
    content = b"".join(response.streaming_content)
    assert content.startswith(b"%PDF")
    assert response["Content-Length"] == str(len(content))
    stored = list((settings.MEDIA_ROOT / "invoices" / ours.number).glob("v1-*.pdf"))
    assert len(stored) == 1 and stored[0].read_bytes() == content


def test_csv_download_holds_the_invoice_lines(client, world, ours):
    client.force_login(world.viewer)
    response = client.get(reverse("invoices:csv", args=[ours.number]))
    assert response["Content-Type"].startswith("text/csv")
    text = response.content.decode("utf-8-sig")
    assert text.count(ours.number) == ours.lines.count()


def test_xml_download_is_valid_for_an_enrolled_account(client, world, ours):
    client.force_login(world.viewer)
    response = client.get(reverse("invoices:xml", args=[ours.number]))
    assert response.status_code == 200
    invoice_schema().assertValid(etree.fromstring(response.content))


def test_xml_download_explains_enrolment_when_not_enrolled(client, world):
    invoice = add_lines(InvoiceFactory(account=world.account_b))
    client.force_login(world.admin)
    response = client.get(reverse("invoices:xml", args=[invoice.number]))
    assert response.status_code == 403
    assert "not enrolled in XML invoices" in response.content.decode()
    assert reverse("manage:accounts") in response.content.decode()


def test_print_page_is_print_ready_and_loads_the_print_script(client, world, ours):
    client.force_login(world.viewer)
    body = client.get(reverse("invoices:print", args=[ours.number])).content.decode()
    assert "data-autoprint" in body
    assert "js/invoices.js" in body
    assert "<script>" not in body  # no inline script (CSP)
    assert "Invoice print fee" in body or "청구서 인쇄 수수료" in body


# --- Bulk ---------------------------------------------------------------------------------


def _bulk(client, numbers=(), fmt="pdf", **extra):
    data = {"format": fmt, "kind": "account", "invoice": list(numbers), "query": ""}
    data.update(extra)
    return client.post(reverse("invoices:bulk_download"), data)


@pytest.mark.parametrize(("fmt", "extension"), [("pdf", "pdf"), ("xml", "xml")])
def test_bulk_zip_holds_one_file_per_invoice(client, world, fmt, extension):
    invoices = [add_lines(InvoiceFactory(account=world.account_a)) for _ in range(3)]
    client.force_login(world.admin)
    response = _bulk(client, [i.number for i in invoices], fmt=fmt)
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "application/zip"
    archive = _zip(response)
    assert sorted(archive.namelist()) == sorted(f"{i.number}.{extension}" for i in invoices)
    if fmt == "xml":
        for name in archive.namelist():
            invoice_schema().assertValid(etree.fromstring(archive.read(name)))
    else:
        assert all(archive.read(name).startswith(b"%PDF") for name in archive.namelist())


def test_bulk_csv_is_one_file_for_all_invoices(client, world):
    invoices = [add_lines(InvoiceFactory(account=world.account_b)) for _ in range(2)]
    client.force_login(world.admin)
    archive = _zip(_bulk(client, [i.number for i in invoices], fmt="csv"))
    assert archive.namelist() == ["invoices.csv"]
    text = archive.read("invoices.csv").decode("utf-8-sig")
    assert all(text.count(i.number) == i.lines.count() for i in invoices)


def test_bulk_with_a_forged_foreign_number_refuses_the_whole_request(client, world, ours):
    client.force_login(world.admin)
    response = _bulk(client, [ours.number, world.foreign.number])
    assert response.status_code == 404
    assert not getattr(response, "streaming", False)
    assert world.foreign.number.encode() not in response.content


def test_bulk_with_an_unknown_number_refuses_the_whole_request(client, world, ours):
    client.force_login(world.admin)
    assert _bulk(client, [ours.number, "FORGED-000"]).status_code == 404


def test_bulk_refuses_xml_for_accounts_not_enrolled(client, world, ours):
    not_enrolled = add_lines(InvoiceFactory(account=world.account_b))
    client.force_login(world.admin)
    response = _bulk(client, [ours.number, not_enrolled.number], fmt="xml")
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert "XML is available only for accounts and plans enrolled" in page.content.decode()
    assert not_enrolled.number in page.content.decode()


def test_bulk_without_a_selection_says_so(client, world):
    client.force_login(world.admin)
    response = _bulk(client, [], query="status=open")
    assert response.status_code == 302
    assert response["Location"] == "/invoices/accounts/?status=open"
    page = client.get(response["Location"])
    assert "Select at least one invoice to download." in page.content.decode()


def test_bulk_rejects_an_unknown_format(client, world, ours):
    client.force_login(world.admin)
    response = _bulk(client, [ours.number], fmt="exe")
    assert response.status_code == 302
    assert response["Location"].split("?")[0] == "/invoices/accounts/"  # back to the table, no file
    page = client.get(response["Location"])
    assert "exe is not one of the available choices" in page.content.decode()
    assert not ExportJob.objects.exists()


def test_select_all_matching_recomputes_the_selection_from_the_filter_in_scope(client, world):
    wanted = [add_lines(InvoiceFactory(account=world.account_a, total=Decimal("1"))) for _ in range(2)]
    add_lines(InvoiceFactory(account=world.account_b))  # does not match the filter
    client.force_login(world.viewer)  # account a only
    query = f"billable={world.account_a.number}"
    # A forged invoice number in the POST is ignored: the server uses the filter.
    response = _bulk(client, [world.foreign.number], fmt="csv", select_all="1", query=query)
    assert response.status_code == 200
    text = _zip(response).read("invoices.csv").decode("utf-8-sig")
    assert {i.number for i in wanted} <= set(line.split(",")[0] for line in text.splitlines()[1:])
    assert world.foreign.number not in text
    # A filter on a foreign account is refused by the form, never widened to it.
    response = _bulk(client, [], fmt="csv", select_all="1", query=f"billable={world.foreign_account.number}")
    text = _zip(response).read("invoices.csv").decode("utf-8-sig")
    assert world.foreign.number not in text


def test_large_selection_runs_as_a_job_with_progress_mail_and_owner_only_download(
    client, world, django_capture_on_commit_callbacks
):
    invoices = [InvoiceFactory(account=world.account_a) for _ in range(BULK_SYNC_LIMIT + 1)]
    client.force_login(world.admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = _bulk(client, [i.number for i in invoices], fmt="xml")
    job = ExportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("invoices:export_job", args=[job.id])
    assert job.status == ExportJob.Status.READY and job.done == job.total == len(invoices)
    assert AuditEvent.objects.filter(action="invoice.export_requested", target_id=str(job.id)).exists()

    page = client.get(response["Location"])
    assert page.status_code == 200 and "data-export-status-url" in page.content.decode()
    status = client.get(reverse("invoices:export_status", args=[job.id])).json()
    assert status["status"] == "ready" and status["percent"] == 100
    assert status["download_url"] == reverse("invoices:export_download", args=[job.id])
    download = client.get(status["download_url"])
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    assert len(archive.namelist()) == len(invoices)

    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [world.admin.email]
    assert f"/invoices/exports/{job.id}/" in mail.outbox[0].body

    # Nobody else may see or download the job, not even a colleague.
    client.force_login(world.viewer)
    for name in ("invoices:export_job", "invoices:export_status", "invoices:export_download"):
        assert client.get(reverse(name, args=[job.id])).status_code == 404


def test_export_job_scopes_again_when_it_runs(world):
    from invoices.services import export_job_run

    invoice = InvoiceFactory(account=world.account_a)
    job = ExportJob.objects.create(
        owner=world.viewer, format="csv", invoice_ids=[invoice.id, world.foreign.id], total=2
    )
    job = export_job_run(job_id=job.id)
    assert job.status == ExportJob.Status.FAILED
    assert not job.file


def test_export_job_page_of_an_unknown_job_is_404(client, world):
    client.force_login(world.admin)
    assert client.get("/invoices/exports/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_user_without_membership_sees_an_empty_table_and_cannot_download(client, world, ours):
    loner = UserFactory()
    client.force_login(loner)
    assert client.get("/invoices/accounts/").context["totals"].count == 0
    assert _bulk(client, [ours.number]).status_code == 404
    assert Invoice.objects.filter(number=ours.number).exists()


def test_progress_endpoint_reports_a_job_still_running(client, world):
    job = ExportJob.objects.create(
        owner=world.admin, format="pdf", invoice_ids=[1, 2, 3, 4], total=4, done=1, status=ExportJob.Status.RUNNING
    )
    client.force_login(world.admin)
    status = client.get(reverse("invoices:export_status", args=[job.id])).json()
    assert status == {
        "status": "running",
        "status_label": "In progress",
        "done": 1,
        "total": 4,
        "percent": 25,
        "error": "",
        "download_url": None,
    }
    page = client.get(reverse("invoices:export_job", args=[job.id])).content.decode()
    assert 'value="1"' in page and "data-export-download" in page
    assert client.get(reverse("invoices:export_download", args=[job.id])).status_code == 404


@pytest.mark.parametrize("name", FORMAT_URLS)
def test_invoice_numbers_the_database_cannot_compare_answer_404(client, world, name):
    client.force_login(world.admin)

    def path(number):  # reverse() itself refuses such numbers; a person can still type them
        return reverse(name, args=["N"]).replace("/N/", f"/{number}/")

    assert client.get(path("A\x00B")).status_code == 404
    assert client.get(path("X" * 300)).status_code == 404


def test_bulk_with_a_nul_character_in_a_number_answers_404(client, world, ours):
    client.force_login(world.admin)
    assert _bulk(client, [ours.number, "A\x00B"]).status_code == 404
