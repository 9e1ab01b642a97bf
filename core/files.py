"""Stored files through Django's storage API (``STORAGES["default"]``): a local folder by default,
S3-compatible object storage in production (billing_centre/settings.py, docs/operations.md).

Every app reads and writes its files by storage name through here or ``default_storage``, never
with ``open()`` on MEDIA_ROOT, so a file written by one host or worker is there for all of them.

- ``storage_errors()`` turns a storage that cannot be reached (connection refused, timeouts, a
  server error, a full disk) into ``StorageUnavailable``, which the views answer with a clear
  503 page (``storage_unavailable_response``) and the jobs retry. A missing file stays
  ``FileNotFoundError``: that is the caller's to decide (render again, 404, expired).
- ``storage_download()`` answers a download after the caller's scope checks: streamed by the
  portal, or (``BC_STORAGE_DOWNLOADS=redirect``, S3 only) a 302 to a signed URL that expires in
  ``BC_STORAGE_URL_EXPIRE`` seconds and names the download and its type.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import content_disposition_header

try:  # S3 (django-storages on boto3); the local folder needs none of it
    from botocore.exceptions import BotoCoreError, ClientError

    _BACKEND_ERRORS: tuple[type[BaseException], ...] = (OSError, BotoCoreError, ClientError)
except ImportError:  # pragma: no cover - boto3 is a dependency
    _BACKEND_ERRORS = (OSError,)

logger = logging.getLogger(__name__)


class StorageUnavailable(Exception):
    """The file storage could not be reached or refused the operation (not a missing file)."""


@contextlib.contextmanager
def storage_errors(operation: str = "storage") -> Iterator[None]:
    """Raise ``StorageUnavailable`` for an outage of the storage; a missing file passes through."""
    try:
        yield
    except (FileNotFoundError, SuspiciousFileOperation):
        raise
    except _BACKEND_ERRORS as error:
        logger.warning("file storage unavailable during %s: %s: %s", operation, type(error).__name__, error)
        raise StorageUnavailable(f"{operation}: {error}") from error


def storage_redirects() -> bool:
    """Are downloads answered with a redirect to a signed URL (``BC_STORAGE_DOWNLOADS=redirect``)?

    Only a storage that signs URLs can (S3); with the local folder the portal always streams.
    """
    return getattr(settings, "BC_STORAGE_DOWNLOADS", "stream") == "redirect" and _signs_urls(default_storage)


def _signs_urls(storage) -> bool:
    return bool(getattr(storage, "querystring_auth", False))


def storage_download(
    *,
    name: str,
    filename: str,
    content_type: str,
    as_attachment: bool = True,
    redirect: bool = True,
    verify: bool = False,
    block_size: int | None = None,
):
    """The response that sends the stored file ``name`` as ``filename``, after the caller's checks.

    ``redirect``: may be answered with a signed URL when the settings say so (False: always
    streamed, e.g. dispute attachments, which need the portal's own headers). ``verify``: check
    that the file exists before redirecting (a stream finds out on opening). Raises
    ``FileNotFoundError`` for a missing file and ``StorageUnavailable`` when the storage is down.
    """
    disposition = content_disposition_header(as_attachment, filename)
    if redirect and storage_redirects():
        with storage_errors("signed URL"):
            if verify and not default_storage.exists(name):
                raise FileNotFoundError(name)
            url = default_storage.url(
                name,
                parameters={"ResponseContentDisposition": disposition, "ResponseContentType": content_type},
                expire=settings.BC_STORAGE_URL_EXPIRE,
            )
        response = HttpResponseRedirect(url)
        # The URL is a credential for a minute: never cached by a browser or a proxy.
        response["Cache-Control"] = "private, no-store"
        return response
    with storage_errors("open"):
        stored = default_storage.open(name, "rb")
        # S3 reads the object here (FileResponse measures it), so an outage is still caught.
        response = FileResponse(stored, as_attachment=as_attachment, filename=filename, content_type=content_type)
    if block_size:
        response.block_size = block_size
    return response


def storage_unavailable_response(request):
    """The page shown when a file cannot be read or stored right now: 503, try again shortly."""
    response = render(request, "storage_unavailable.html", status=503)
    response["Retry-After"] = "60"
    response["Cache-Control"] = "private, no-store"
    return response
