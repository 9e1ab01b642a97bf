"""Bulk exports under faults: Redis down when the job is asked for, a worker killed mid-build.

Each test drives a real `celery worker` on a private Redis (tests/faults/conftest.py) and asserts
afterwards that the job reached its end, that the file is a complete ZIP served by the view, and
that nothing was built twice at once.
"""

from __future__ import annotations

import datetime
import io
import zipfile
from pathlib import Path

import pytest
from django.db.models.functions import Now
from django.urls import reverse

from accounts.models import Role
from invoices.models import ExportJob
from invoices.services import BULK_SYNC_LIMIT
from tests.accounts.factories import CompanyFactory, MembershipFactory, ShippingAccountFactory
from tests.invoices.conftest import add_lines
from tests.invoices.factories import InvoiceFactory
from tests.processes import wait_until

# Real workers (start_worker) on a private redis-server, reading the PostgreSQL test database.
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.needs_postgres,
    pytest.mark.needs_redis,
    pytest.mark.needs_worker,
]


def _company_with_invoices(count: int, *, lines: bool = False):
    """An administrator of a company whose XML-enrolled account has ``count`` invoices."""
    company = CompanyFactory(name="한빛상사")
    account = ShippingAccountFactory(company=company, name="서울 센터", xml_enrolled=True)
    admin = MembershipFactory(company=company, role=Role.ADMINISTRATOR).user
    invoices = [InvoiceFactory(account=account) for _ in range(count)]
    if lines:
        invoices = [add_lines(invoice, shipments=1) for invoice in invoices]
    return admin, invoices


def _request_bulk_zip(client, invoices, fmt: str):
    data = {"format": fmt, "kind": "account", "invoice": [i.number for i in invoices], "query": ""}
    return client.post(reverse("invoices:bulk_download"), data)


def _downloaded_zip(client, job: ExportJob) -> zipfile.ZipFile:
    response = client.get(reverse("invoices:export_download", args=[job.id]))
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.testzip() is None  # every member's CRC checks out
    return archive


def _export_files(settings, job: ExportJob) -> list[str]:
    folder = Path(settings.MEDIA_ROOT) / "exports" / str(job.owner_id)
    return sorted(path.name for path in folder.iterdir()) if folder.is_dir() else []


def test_bulk_zip_asked_for_while_redis_is_down_waits_then_is_built_once_redis_returns(
    client, private_redis, start_worker, settings
):
    admin, invoices = _company_with_invoices(BULK_SYNC_LIMIT + 5)
    client.force_login(admin)

    # Given Redis (broker and cache) is down
    private_redis.stop()

    # When the user asks for a ZIP too large to build during the request
    response = _request_bulk_zip(client, invoices, "xml")

    # Then no 500: the job is saved, waiting, and its page says so
    assert response.status_code == 302
    job = ExportJob.objects.get()
    assert response["Location"] == reverse("invoices:export_job", args=[job.id])
    assert job.status == ExportJob.Status.PENDING and job.attempts == 0
    page = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert "Waiting" in page.content.decode()
    assert client.get(reverse("invoices:export_status", args=[job.id])).json()["status"] == "pending"

    # When Redis returns, a worker runs and the periodic sweep re-queues what never reached the broker
    private_redis.start()
    worker = start_worker()
    from invoices.services import export_jobs_sweep

    swept = export_jobs_sweep(requeue_after=datetime.timedelta(0))
    assert swept["requeued"] == 1

    # Then the job is built once, and the ZIP downloads with one member per invoice
    wait_until(
        lambda: ExportJob.objects.get(pk=job.pk).status in (ExportJob.Status.READY, ExportJob.Status.FAILED),
        timeout=90,
        message=f"the export to finish; worker log:\n{worker.log()[-3000:]}",
    )
    job.refresh_from_db()
    assert job.status == ExportJob.Status.READY, job.error
    assert job.attempts == 1 and job.done == job.total == len(invoices)
    archive = _downloaded_zip(client, job)
    assert sorted(archive.namelist()) == sorted(f"{i.number}.xml" for i in invoices)
    assert _export_files(settings, job) == [f"{job.id}.zip"]
    status = client.get(reverse("invoices:export_status", args=[job.id])).json()
    assert status["status"] == "ready" and status["download_url"]


def test_export_whose_worker_is_killed_mid_build_is_rebuilt_by_another_worker_once_the_lease_expires(
    client, private_redis, start_worker, settings
):
    admin, invoices = _company_with_invoices(BULK_SYNC_LIMIT + 30, lines=True)
    client.force_login(admin)
    # A short lease, so the test need not wait the production default for the takeover.
    lease = {"EXPORT_JOB_LEASE_SECONDS": "3"}
    first = start_worker(extra_env=lease)

    response = _request_bulk_zip(client, invoices, "pdf")
    assert response.status_code == 302
    job = ExportJob.objects.get()

    # Given the first worker is part-way through the ZIP (PDFs rendered one by one)
    def part_way() -> bool:
        job.refresh_from_db()
        return 0 < job.done < job.total

    wait_until(part_way, timeout=120, interval=0.05, message=f"the first worker to start; log:\n{first.log()[-3000:]}")

    # When it is killed (no clean-up, no ack)
    first.kill()
    job.refresh_from_db()
    assert job.status == ExportJob.Status.RUNNING and job.attempts == 1
    stopped_at = job.done
    assert stopped_at < job.total

    # Then, once its lease has expired, the sweep hands the job to a second worker, which rebuilds it
    second = start_worker(extra_env=lease)
    wait_until(
        lambda: ExportJob.objects.filter(pk=job.pk, lease_expires_at__lt=Now()).exists(),
        timeout=30,
        message="the dead worker's lease to expire",
    )
    from invoices.services import export_jobs_sweep

    swept = export_jobs_sweep(requeue_after=datetime.timedelta(0))
    assert swept["requeued"] == 1
    wait_until(
        lambda: ExportJob.objects.get(pk=job.pk).status in (ExportJob.Status.READY, ExportJob.Status.FAILED),
        timeout=180,
        message=f"the second worker to finish; log:\n{second.log()[-3000:]}",
    )
    job.refresh_from_db()
    assert job.status == ExportJob.Status.READY, job.error
    # Two builds in all, one after the other: the killed one and the one that finished.
    assert job.attempts == 2
    assert "invoices.export_job_run" in second.log()
    assert "lost its lease" not in first.log() + second.log()

    # One file, no leftover part, a complete ZIP of valid PDFs, served by the view
    assert _export_files(settings, job) == [f"{job.id}.zip"]
    archive = _downloaded_zip(client, job)
    assert sorted(archive.namelist()) == sorted(f"{i.number}.pdf" for i in invoices)
    assert all(archive.read(name).startswith(b"%PDF") for name in archive.namelist())


def test_a_worker_stopped_with_sigterm_finishes_the_export_it_is_building_first(client, private_redis, start_worker):
    # docker compose stop / a deploy: SIGTERM, a warm shutdown within stop_grace_period.
    admin, invoices = _company_with_invoices(BULK_SYNC_LIMIT + 10, lines=True)
    client.force_login(admin)
    worker = start_worker()
    assert _request_bulk_zip(client, invoices, "pdf").status_code == 302
    job = ExportJob.objects.get()

    def part_way() -> bool:
        job.refresh_from_db()
        return 0 < job.done < job.total

    wait_until(part_way, timeout=120, interval=0.05, message=f"the worker to start; log:\n{worker.log()[-3000:]}")
    worker.process.terminate()
    worker.process.wait(timeout=120)

    job.refresh_from_db()
    assert job.status == ExportJob.Status.READY and job.attempts == 1
    assert "warm shutdown" in worker.log().lower()
    archive = _downloaded_zip(client, job)
    assert len(archive.namelist()) == len(invoices)
