"""Dispute attachments on S3-compatible object storage (issue 15), against moto's standalone server
on loopback (tests/storage_server.py): evidence sent to one host is there for every host, served
only as a download to who may see the dispute, and a storage outage files nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from disputes.models import Dispute, DisputeAttachment

from .conftest import PDF, PNG, file_with_attachments

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def _media_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_an_attachment_filed_through_the_form_lands_in_the_bucket_and_downloads_only_to_who_may_see_it(
    world, s3_storage, settings
):
    filer = _client(world["users"]["payer"])

    response = file_with_attachments(
        filer, world, [SimpleUploadedFile("계량표.pdf", PDF, content_type="application/pdf")]
    )

    assert response.status_code == 302
    attachment = DisputeAttachment.objects.get()
    assert s3_storage.keys() == [attachment.file] and attachment.file.startswith("disputes/")
    assert s3_storage.read(attachment.file) == PDF
    assert _media_files(settings) == []

    url = reverse("disputes:attachment", args=[attachment.dispute.reference, attachment.pk])
    # Another host (its own client), even with downloads redirected: streamed, as a download.
    settings.BC_STORAGE_DOWNLOADS = "redirect"
    download = _client(world["users"]["payer"]).get(url)
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PDF
    assert download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"].startswith("attachment;")
    assert "filename*=utf-8''%EA%B3%84%EB%9F%89%ED%91%9C.pdf" in download["Content-Disposition"]
    assert download["X-Content-Type-Options"] == "nosniff"
    assert download["Cache-Control"] == "private, no-store"

    # Another company's administrator, or a payer of another account: 404, never the file.
    for other in ("outsider", "unassigned"):
        assert _client(world["users"][other]).get(url).status_code == 404


def test_storage_down_filing_with_attachments_files_nothing_and_says_so(world, s3_outage):
    filer = _client(world["users"]["payer"])
    filer.raise_request_exception = False
    s3_outage.kill()

    response = file_with_attachments(
        filer,
        world,
        [
            SimpleUploadedFile("a.pdf", PDF, content_type="application/pdf"),
            SimpleUploadedFile("b.png", PNG, content_type="image/png"),
        ],
    )

    # The form again, with the reason next to the attachments: no 500, nothing half-filed.
    assert response.status_code == 400
    errors = " ".join(response.context["form"].errors["attachments"])
    assert "could not be stored just now, so nothing was filed" in errors
    assert not Dispute.objects.exists() and not DisputeAttachment.objects.exists()

    # Back (a new server here): the same filing goes through.
    bucket = s3_outage.restart()
    again = file_with_attachments(filer, world, [SimpleUploadedFile("a.pdf", PDF, content_type="application/pdf")])
    assert again.status_code == 302
    assert bucket.keys() == [DisputeAttachment.objects.get().file]


def test_storage_down_an_attachment_download_answers_a_clear_503(world, s3_outage):
    filer = _client(world["users"]["payer"])
    file_with_attachments(filer, world, [SimpleUploadedFile("a.pdf", PDF, content_type="application/pdf")])
    attachment = DisputeAttachment.objects.get()
    filer.raise_request_exception = False
    s3_outage.kill()

    response = filer.get(reverse("disputes:attachment", args=[attachment.dispute.reference, attachment.pk]))

    assert response.status_code == 503
    assert "File temporarily unavailable" in response.content.decode()
