"""Invoice PDFs and export ZIPs on S3-compatible object storage (issue 15), against a real server:
moto's standalone server on loopback (tests/storage_server.py), never a mocked client.

What a multi-host portal needs: a file written by one host or worker is read by any other, no local
path is used (MEDIA_ROOT stays empty), downloads are streamed or redirected to short-lived signed
URLs, old export ZIPs are deleted, and a storage outage gives a clear page or a retried job, never a
500 or a half-written row.
"""

from __future__ import annotations

import datetime
import io
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import JobRun
from invoices import services
from invoices.models import ExportJob, InvoiceDocument
from invoices.services import export_jobs_sweep
from invoices.tasks import export_files_purge_task, export_job_run_task
from tests.invoices.factories import InvoiceFactory

from .conftest import add_lines

pytestmark = pytest.mark.django_db


def _files_under(root) -> list[Path]:
    root = Path(root)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _fetch(url: str):
    """(status, body, headers) of a GET, as a browser following the redirect would make it."""
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read(), answer.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers


@pytest.fixture
def ours(world):
    return add_lines(InvoiceFactory(account=world.account_a), print_fee=True)


def _build(job: ExportJob) -> ExportJob:
    """The real task, as a worker runs it (eagerly here)."""
    assert export_job_run_task.delay(str(job.id)).get() == "ready"
    job.refresh_from_db()
    return job


# --- Stored invoice PDFs -----------------------------------------------------------------------


def test_an_invoice_pdf_is_stored_in_the_bucket_and_streams_back_byte_identical(
    client, world, ours, s3_storage, settings, monkeypatch
):
    client.force_login(world.viewer)

    response = client.get(reverse("invoices:pdf", args=[ours.number]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{ours.number}.pdf"'
    content = b"".join(response.streaming_content)
    assert content.startswith(b"%PDF") and response["Content-Length"] == str(len(content))
    document = InvoiceDocument.objects.get(invoice=ours)
    assert s3_storage.keys() == [document.file] == [f"invoices/{ours.number}/v1-en.pdf"]
    assert s3_storage.read(document.file) == content
    assert _files_under(settings.MEDIA_ROOT) == []

    # Asked again (any host): served from the bucket, not rendered again.
    monkeypatch.setattr(services, "render_invoice_pdf", lambda *a, **k: pytest.fail("rendered again"))
    again = client.get(reverse("invoices:pdf", args=[ours.number]))
    assert b"".join(again.streaming_content) == content


def test_a_pdf_whose_object_was_lost_is_rendered_and_stored_again(client, world, ours, s3_storage):
    client.force_login(world.viewer)
    first = b"".join(client.get(reverse("invoices:pdf", args=[ours.number])).streaming_content)
    document = InvoiceDocument.objects.get(invoice=ours)
    s3_storage.server.client().delete_object(Bucket=s3_storage.name, Key=document.file)

    again = b"".join(client.get(reverse("invoices:pdf", args=[ours.number])).streaming_content)

    assert again.startswith(b"%PDF") and len(again) == len(first)
    assert InvoiceDocument.objects.filter(invoice=ours).count() == 1
    assert s3_storage.keys() == [document.file]


def test_redirect_mode_answers_a_short_lived_signed_url_on_the_storage_that_gives_the_file(
    client, world, ours, s3_storage, settings
):
    settings.BC_STORAGE_DOWNLOADS = "redirect"
    client.force_login(world.viewer)

    response = client.get(reverse("invoices:pdf", args=[ours.number]))

    # After the same scope checks, a redirect to the storage itself, never cached.
    assert response.status_code == 302
    assert response["Cache-Control"] == "private, no-store"
    location = urllib.parse.urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}" == s3_storage.server.endpoint
    document = InvoiceDocument.objects.get(invoice=ours)
    assert location.path == f"/{s3_storage.name}/{document.file}"
    query = urllib.parse.parse_qs(location.query)
    assert query["X-Amz-Expires"] == ["60"]
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"] and query["X-Amz-Signature"][0]
    # Fetched by the browser (urllib here): the file, named and typed for download.
    status, body, headers = _fetch(response["Location"])
    assert status == 200
    assert body == s3_storage.read(document.file)
    assert headers["Content-Disposition"] == f'attachment; filename="{ours.number}.pdf"'
    assert headers["Content-Type"] == "application/pdf"
    # Outside its scope, the redirect is never made.
    client.force_login(world.outsider)
    assert client.get(reverse("invoices:pdf", args=[ours.number])).status_code == 404


def test_a_signed_url_stripped_of_its_signature_is_refused(client, world, ours, s3_storage, settings):
    settings.BC_STORAGE_DOWNLOADS = "redirect"
    client.force_login(world.viewer)
    location = client.get(reverse("invoices:pdf", args=[ours.number]))["Location"]

    # The objects are private: without the signature the storage refuses the file.
    bare = location.split("?", 1)[0]
    status, body, _headers = _fetch(bare)

    assert status == 403
    assert b"%PDF" not in body


def test_downloads_stream_from_the_local_folder_even_if_redirect_is_asked_for(client, world, ours, settings):
    # The local folder cannot sign URLs: the portal streams (settings refuse this at start-up).
    settings.BC_STORAGE_DOWNLOADS = "redirect"
    client.force_login(world.viewer)

    response = client.get(reverse("invoices:pdf", args=[ours.number]))

    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"%PDF")


# --- Export ZIPs: built by a worker, downloaded from any host --------------------------------------


def test_an_export_built_by_the_task_lands_in_the_bucket_and_downloads_from_another_host(
    world, job, s3_storage, settings, tmp_path
):
    worker_media = settings.MEDIA_ROOT
    job = _build(job)

    assert job.status == ExportJob.Status.READY and job.done == job.total == 4
    assert job.file == f"exports/{job.owner_id}/{job.id}.zip"
    assert s3_storage.keys("exports/") == [job.file]
    assert len(mail.outbox) == 1  # the "ready" e-mail

    # Another web host: its own (empty) media folder, its own client and session.
    settings.MEDIA_ROOT = tmp_path / "host-b-media"
    host_b = Client()
    host_b.force_login(world.admin)
    response = host_b.get(reverse("invoices:export_download", args=[job.id]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    content = b"".join(response.streaming_content)
    assert content == s3_storage.read(job.file)
    archive = zipfile.ZipFile(io.BytesIO(content))
    assert archive.testzip() is None and len(archive.namelist()) == 4
    assert _files_under(worker_media) == [] and _files_under(settings.MEDIA_ROOT) == []

    # Redirect mode: the same file through a signed URL of the storage.
    settings.BC_STORAGE_DOWNLOADS = "redirect"
    redirected = host_b.get(reverse("invoices:export_download", args=[job.id]))
    assert redirected.status_code == 302
    status, body, headers = _fetch(redirected["Location"])
    assert status == 200 and body == content
    assert headers["Content-Type"] == "application/zip"
    assert headers["Content-Disposition"].startswith("attachment; filename=")
    # Nobody else's: another user of the same company gets a 404, not a link.
    other = Client()
    other.force_login(world.viewer)
    assert other.get(reverse("invoices:export_download", args=[job.id])).status_code == 404


def test_a_pdf_export_reads_the_stored_pdfs_from_the_bucket(world, s3_storage, settings):
    invoices = [add_lines(InvoiceFactory(account=world.account_a)) for _ in range(2)]
    job = ExportJob.objects.create(
        owner=world.admin, format="pdf", language="en", invoice_ids=[i.id for i in invoices], total=2
    )

    job = _build(job)

    archive = zipfile.ZipFile(io.BytesIO(s3_storage.read(job.file)))
    documents = {d.invoice_id: d for d in InvoiceDocument.objects.filter(invoice__in=invoices)}
    assert sorted(archive.namelist()) == sorted(f"{i.number}.pdf" for i in invoices)
    for invoice in invoices:
        assert archive.read(f"{invoice.number}.pdf") == s3_storage.read(documents[invoice.id].file)
    assert _files_under(settings.MEDIA_ROOT) == []


def test_a_build_that_lost_its_lease_after_saving_deletes_its_zip_and_publishes_nothing(job, s3_storage, monkeypatch):
    # Given build A claimed the job, and build B took it over before A published
    stale, token_a = services.export_job_claim(job_id=job.pk)
    held_by_a = ExportJob.objects.filter(pk=job.pk, lease_token=token_a, status=ExportJob.Status.RUNNING)
    storage = services.default_storage

    class SaveThenLoseTheLease:
        """The storage, but B takes the job over right after A saved its ZIP."""

        def __getattr__(self, name):
            return getattr(storage, name)

        def save(self, name, content, **kwargs):
            saved = storage.save(name, content, **kwargs)
            ExportJob.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - datetime.timedelta(seconds=1))
            services.export_job_claim(job_id=job.pk)  # build B
            return saved

    monkeypatch.setattr(services, "default_storage", SaveThenLoseTheLease())
    with pytest.raises(services._LeaseLost):
        services._export_job_build(stale, held_by_a)

    # Then A's ZIP is gone from the bucket, and the job is still B's to build
    assert s3_storage.keys("exports/") == []
    job.refresh_from_db()
    assert job.status == ExportJob.Status.RUNNING and job.file == "" and job.attempts == 2


# --- Retention ------------------------------------------------------------------------------------


def test_the_retention_task_deletes_old_zips_from_the_bucket_and_keeps_new_ones(world, job, s3_storage, settings):
    settings.BC_EXPORT_RETENTION_DAYS = 7
    old = _build(job)
    new = _build(
        ExportJob.objects.create(owner=world.admin, format="xml", language="en", invoice_ids=job.invoice_ids, total=4)
    )
    ExportJob.objects.filter(pk=old.pk).update(finished_at=timezone.now() - datetime.timedelta(days=8))
    ExportJob.objects.filter(pk=new.pk).update(finished_at=timezone.now() - datetime.timedelta(days=6))
    assert s3_storage.keys("exports/") == sorted([old.file, new.file])

    counts = export_files_purge_task.delay().get()

    assert counts == {"expired": 1}
    assert s3_storage.keys("exports/") == [new.file]
    old.refresh_from_db()
    new.refresh_from_db()
    assert old.status == ExportJob.Status.EXPIRED and old.file == ""
    assert new.status == ExportJob.Status.READY
    run = JobRun.objects.get(job="export_files_purge")
    assert run.status == JobRun.Status.SUCCEEDED and run.counts == {"expired": 1}
    # Run again (a catch-up, a second beat): nothing more to do.
    assert export_files_purge_task.delay().get() == {"expired": 0}


def test_downloading_an_expired_export_says_to_make_it_again(client, world, job, s3_storage, settings):
    job = _build(job)
    ExportJob.objects.filter(pk=job.pk).update(finished_at=timezone.now() - datetime.timedelta(days=30))
    export_files_purge_task.delay().get()
    client.force_login(world.admin)

    response = client.get(reverse("invoices:export_download", args=[job.id]), HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 410
    page = response.content.decode()
    assert "This download has expired" in page and "Select the invoices again" in page
    status = client.get(reverse("invoices:export_status", args=[job.id])).json()
    assert status["status"] == "expired" and status["download_url"] is None
    assert "This download has expired" in status["error"]


def test_a_ready_export_whose_file_is_gone_answers_expired_not_500(client, world, job, s3_storage):
    job = _build(job)
    s3_storage.server.client().delete_object(Bucket=s3_storage.name, Key=job.file)
    client.force_login(world.admin)

    response = client.get(reverse("invoices:export_download", args=[job.id]))

    assert response.status_code == 410
    assert "This download has expired" in response.content.decode()


# --- The storage down -------------------------------------------------------------------------------


def test_storage_down_a_pdf_download_answers_a_clear_503_and_writes_no_row(client, world, ours, s3_outage):
    client.force_login(world.viewer)
    client.raise_request_exception = False
    s3_outage.kill()

    response = client.get(reverse("invoices:pdf", args=[ours.number]))

    assert response.status_code == 503
    assert response["Retry-After"] == "60"
    page = response.content.decode()
    assert "File temporarily unavailable" in page and "Traceback" not in page
    assert not InvoiceDocument.objects.exists()  # rendered, but not recorded without its file


def test_storage_down_a_stored_pdf_answers_503_and_is_served_once_it_is_back(client, world, ours, s3_outage):
    client.force_login(world.viewer)
    client.raise_request_exception = False
    assert client.get(reverse("invoices:pdf", args=[ours.number])).status_code == 200
    s3_outage.kill()

    assert client.get(reverse("invoices:pdf", args=[ours.number])).status_code == 503

    # Back (a new, empty server here): the PDF is rendered and stored again, on the same row.
    bucket = s3_outage.restart()
    response = client.get(reverse("invoices:pdf", args=[ours.number]))
    assert response.status_code == 200
    assert bucket.keys() == [InvoiceDocument.objects.get().file]


def test_storage_down_an_export_build_is_given_back_and_retried_once_it_is_back(world, job, s3_outage):
    s3_outage.kill()

    # The worker could not save the ZIP: the job waits for another build, nothing published.
    assert export_job_run_task.delay(str(job.id)).get() == "pending"
    job.refresh_from_db()
    assert job.status == ExportJob.Status.PENDING and job.attempts == 1
    assert job.file == "" and job.lease_token is None
    assert mail.outbox == []

    # The storage is back: the sweep queues the job again and it is built.
    bucket = s3_outage.restart()
    assert export_jobs_sweep(requeue_after=datetime.timedelta(0))["requeued"] == 1
    job.refresh_from_db()
    assert job.status == ExportJob.Status.READY and job.attempts == 2
    assert bucket.keys("exports/") == [job.file]
    assert len(mail.outbox) == 1


def test_storage_down_a_bulk_zip_answers_503_before_the_download_starts(client, world, s3_outage):
    invoices = [add_lines(InvoiceFactory(account=world.account_a)) for _ in range(2)]
    client.force_login(world.admin)
    client.raise_request_exception = False
    s3_outage.kill()

    response = client.post(
        reverse("invoices:bulk_download"),
        {"format": "pdf", "kind": "account", "invoice": [i.number for i in invoices], "query": ""},
    )

    assert response.status_code == 503
    assert "File temporarily unavailable" in response.content.decode()


def test_storage_down_an_export_download_answers_503(client, world, job, s3_outage):
    job = _build(job)
    client.force_login(world.admin)
    client.raise_request_exception = False
    s3_outage.kill()

    assert client.get(reverse("invoices:export_download", args=[job.id])).status_code == 503
    job.refresh_from_db()
    assert job.status == ExportJob.Status.READY  # not expired: the file is only out of reach


def test_storage_down_the_retention_run_fails_recorded_and_expires_nothing(job, s3_outage):
    job = _build(job)
    ExportJob.objects.filter(pk=job.pk).update(finished_at=timezone.now() - datetime.timedelta(days=30))
    s3_outage.kill()

    with pytest.raises(Exception, match="export purge"):
        export_files_purge_task.delay().get()

    job.refresh_from_db()
    assert job.status == ExportJob.Status.READY and job.file
    run = JobRun.objects.get(job="export_files_purge")
    assert run.status == JobRun.Status.FAILED and run.errors
