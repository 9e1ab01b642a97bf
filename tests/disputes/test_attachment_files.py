"""Dispute attachments: any file name is accepted with a safe name, and a request that fails
leaves no file in the media folder and no row (issue 13).

Both paths that take attachments are exercised through the pages: filing one dispute by charge
and filing several whole invoices at once. (Messages on a dispute take no attachments.)
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse

from disputes.models import Dispute, DisputeAttachment
from tests.invoices.factories import InvoiceFactory

from .conftest import PDF, PNG, file_with_attachments

pytestmark = pytest.mark.django_db

# Names that Django's get_valid_filename() cleans to nothing (or to dots only), with or without
# an extension: punctuation, spaces, dots, and characters that are not letters or digits.
NAMES_THAT_CLEAN_TO_NOTHING = ["!!!", "!!!.pdf", "...", "....pdf", "   ", "   .pdf", "🧾🧾.pdf", "(*)", "-_-.pdf"]


def _stored_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _url(*numbers):
    return reverse("disputes:file") + "?" + "&".join(f"invoice={n}" for n in numbers)


def _file_bulk(client, world, files):
    InvoiceFactory(account=world["account"], number="INV000000102", total=Decimal("42000"))
    return client.post(_url("INV000000101", "INV000000102"), {"reason": "duplicate", "attachments": files})


PATHS = {"one invoice": file_with_attachments, "several invoices": _file_bulk}


def _good():
    return SimpleUploadedFile("운송장.pdf", PDF, content_type="application/pdf")


@pytest.fixture
def payer(login, world):
    client = login(world["users"]["payer"])
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", NAMES_THAT_CLEAN_TO_NOTHING)
def test_an_attachment_whose_name_cleans_to_nothing_gets_a_safe_name(payer, world, settings, path, name):
    odd = SimpleUploadedFile(name, PNG, content_type="image/png")

    response = PATHS[path](payer, world, [_good(), odd])

    assert response.status_code == 302
    names = set(DisputeAttachment.objects.values_list("name", flat=True))
    assert names == {"운송장.pdf", "attachment.png"}
    stored = {str(p.relative_to(settings.MEDIA_ROOT)) for p in _stored_files(settings)}
    assert stored == set(DisputeAttachment.objects.values_list("file", flat=True))
    assert len(stored) == 2  # one file per upload, shared by the disputes of a bulk filing


@pytest.mark.parametrize("path", PATHS)
def test_a_refused_attachment_leaves_no_file_and_no_row(payer, world, settings, path):
    disguised = SimpleUploadedFile("photo.png", b"<script>alert(1)</script>", content_type="image/png")

    response = PATHS[path](payer, world, [_good(), _good(), disguised])

    assert response.status_code == 400
    assert "not a PDF, JPEG or PNG" in " ".join(response.context["form"].errors["attachments"])
    assert _stored_files(settings) == []
    assert not Dispute.objects.exists()
    assert not DisputeAttachment.objects.exists()


@pytest.fixture
def audit_fails_on_dispute_filed():
    """A real database error after the files were written: PostgreSQL refuses the audit row of
    the filing (the last write of the transaction). Dropped with the test's transaction."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            CREATE FUNCTION bc_test_refuse_audit() RETURNS trigger AS $$
            BEGIN
                IF NEW.action = 'dispute.filed' THEN
                    RAISE EXCEPTION 'audit refused by the test';
                END IF;
                RETURN NEW;
            END $$ LANGUAGE plpgsql;
            CREATE TRIGGER bc_test_refuse_audit BEFORE INSERT ON accounts_auditevent
                FOR EACH ROW EXECUTE FUNCTION bc_test_refuse_audit();
            """
        )


@pytest.mark.parametrize("path", PATHS)
def test_a_database_error_after_the_files_were_written_removes_them(
    payer, world, settings, path, audit_fails_on_dispute_filed
):
    payer.raise_request_exception = False

    response = PATHS[path](payer, world, [_good(), SimpleUploadedFile("b.png", PNG, content_type="image/png")])

    assert response.status_code == 500
    assert _stored_files(settings) == []
    assert not Dispute.objects.exists()
    assert not DisputeAttachment.objects.exists()


def test_an_attachment_with_a_safe_fallback_name_downloads(payer, world):
    file_with_attachments(payer, world, [SimpleUploadedFile("!!!", PDF, content_type="application/pdf")])
    attachment = DisputeAttachment.objects.get()

    response = payer.get(reverse("disputes:attachment", args=[attachment.dispute.reference, attachment.pk]))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert 'filename="attachment.pdf"' in response["Content-Disposition"]
