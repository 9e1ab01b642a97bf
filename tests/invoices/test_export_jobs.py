"""The export pages of a job: its state, and the download once it is ready.

The jobs' build, lease, sweep and attempts are tested at the service in test_services.py; the
``job`` fixture is in tests/invoices/conftest.py.
"""

from __future__ import annotations

import io
import zipfile

import pytest
from django.urls import reverse

from invoices.models import ExportJob
from invoices.services import export_job_run


@pytest.mark.parametrize(
    ("status", "attempts", "shown", "hidden"),
    [
        ("pending", 0, ["Waiting", "Waiting to start."], ["Started again"]),
        ("running", 2, ["In progress", "Started again after an interruption"], ["Waiting to start."]),
        ("failed", 3, ["Failed", "It broke."], ["Waiting to start.", "Started again"]),
    ],
)
def test_export_page_shows_each_state(client, job, status, attempts, shown, hidden):
    ExportJob.objects.filter(pk=job.pk).update(status=status, attempts=attempts, error="It broke.")
    client.force_login(job.owner)

    page = client.get(reverse("invoices:export_job", args=[job.id])).content.decode()

    for text in shown:
        assert text in page
    for text in hidden:
        assert text not in page


def test_ready_job_downloads_through_the_view(client, job):
    export_job_run(job_id=job.pk)
    client.force_login(job.owner)
    response = client.get(reverse("invoices:export_download", args=[job.id]))
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert len(archive.namelist()) == 4
