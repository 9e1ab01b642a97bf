"""Dispute attachments: checked by their content (PDF, JPEG, PNG), stored through the storage API,
and removed again when the request that stored them fails."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import default_storage
from django.utils import timezone
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

from core.files import StorageUnavailable, storage_errors

from ..models import Dispute, DisputeAttachment
from .rules import DisputeRefused

logger = logging.getLogger(__name__)

MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
MAX_ATTACHMENTS = 5
# File signatures (magic bytes): the type is decided from the content, never from the
# name or the browser's claim. (signature, content type, extension)
ATTACHMENT_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF-", "application/pdf", "pdf"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
)


@dataclass(frozen=True)
class CheckedFile:
    upload: object
    content_type: str
    extension: str
    size: int
    # The download name: the uploaded name cleaned, with the extension of the sniffed type.
    name: str


def attachment_sniff(head: bytes) -> tuple[str, str] | None:
    """(content type, extension) from a file's first bytes, or None when it is not PDF/JPEG/PNG."""
    for signature, content_type, extension in ATTACHMENT_SIGNATURES:
        if head.startswith(signature):
            return content_type, extension
    return None


def attachments_check(files: Sequence) -> list[CheckedFile]:
    files = [f for f in files if f]
    if len(files) > MAX_ATTACHMENTS:
        raise DisputeRefused(_("Attach at most %(count)d files.") % {"count": MAX_ATTACHMENTS}, field="attachments")
    checked = []
    for upload in files:
        name = getattr(upload, "name", "") or ""
        size = getattr(upload, "size", None) or 0
        if size > MAX_ATTACHMENT_BYTES:
            raise DisputeRefused(
                _("%(name)s is larger than 5 MB. Attach a smaller file.") % {"name": name},
                field="attachments",
            )
        if size == 0:
            raise DisputeRefused(_("%(name)s is empty.") % {"name": name}, field="attachments")
        upload.seek(0)
        sniffed = attachment_sniff(upload.read(16))
        upload.seek(0)
        if sniffed is None:
            raise DisputeRefused(
                _("%(name)s is not a PDF, JPEG or PNG file. Only these types can be attached.") % {"name": name},
                field="attachments",
            )
        checked.append(
            CheckedFile(
                upload=upload,
                content_type=sniffed[0],
                extension=sniffed[1],
                size=size,
                name=attachment_name(name, sniffed[1]),
            )
        )
    return checked


def attachment_name(uploaded: str, extension: str) -> str:
    """The name offered back on download: the uploaded name's stem, cleaned, plus ``extension``.

    Never fails: a name that cleans to nothing (``!!!``, ``...``, spaces, only characters that
    are not letters or digits) becomes ``attachment.<extension>``, friendlier than refusing the
    file. (``get_valid_filename`` raises ``SuspiciousFileOperation`` for those, a bare 400.)
    """
    stem = Path(str(uploaded).replace("\\", "/")).name.rsplit(".", 1)[0]  # our extension replaces any
    try:
        stem = get_valid_filename(stem)
    except SuspiciousFileOperation:
        stem = ""
    stem = stem.strip("._-")[:100].rstrip("._-")
    if not any(char.isalnum() for char in stem):
        stem = "attachment"
    return f"{stem}.{extension}"


@contextmanager
def files_removed_on_failure() -> Iterator[list[str]]:
    """Collect the storage names written inside; delete them if anything fails before the block
    ends, commit included. Services that store files open their transaction inside this block,
    so a refused request or a database error leaves no file without its row."""
    written: list[str] = []
    try:
        yield written
    except BaseException:
        for name in written:
            try:
                default_storage.delete(name)
            except Exception:  # noqa: BLE001 - the original error matters more
                logger.exception("could not remove attachment %s after a failed request", name)
        raise


def _store_file(checked: CheckedFile, written: list[str]) -> str:
    """Store the upload through the storage API (a private folder, or object storage) under a
    random name; return the storage name, also recorded in ``written`` for clean-up."""
    checked.upload.seek(0)
    try:
        with storage_errors("attachment save"):
            name = default_storage.save(
                f"disputes/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.{checked.extension}", checked.upload
            )
    except StorageUnavailable:
        # Raised inside the filing's transaction: nothing is filed, and files stored before this
        # one are removed (files_removed_on_failure); the form is shown again with this message.
        raise DisputeRefused(
            _(
                "Your attachments could not be stored just now, so nothing was filed. Please try again in a few minutes."
            ),
            field="attachments",
            code="storage_unavailable",
        ) from None
    written.append(name)
    return name


def attachments_store(*, disputes: Iterable[Dispute], checked: list[CheckedFile], actor, written: list[str]) -> None:
    stored = [(c, _store_file(c, written)) for c in checked]
    DisputeAttachment.objects.bulk_create(
        [
            DisputeAttachment(
                dispute=dispute,
                file=relative,
                name=c.name,
                content_type=c.content_type,
                size=c.size,
                uploaded_by=actor,
            )
            for dispute in disputes
            for c, relative in stored
        ]
    )
