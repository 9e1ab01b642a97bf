"""Retention of stored files: export ZIPs are deleted ``BC_EXPORT_RETENTION_DAYS`` after they were
built (beat, daily: ``invoices.export_files_purge``; docs/scheduled-jobs.md). Invoices and their
stored PDFs are kept: they are tax records."""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.core.files.storage import default_storage
from django.utils import timezone, translation
from django.utils.translation import ngettext

from core.files import StorageUnavailable, storage_errors

from .models import ExportJob

logger = logging.getLogger(__name__)

PURGE_BATCH = 500


def export_files_purge(*, now: datetime.datetime | None = None, days: int | None = None, recorder=None) -> dict:
    """Daily (beat): delete the ZIPs of exports finished more than ``days`` ago; mark them expired.

    The file goes first, then the row: a run stopped in between leaves a ready job whose file is
    gone (its download answers "expired" all the same) and the next run marks it. With the
    storage unreachable the run stops, changes nothing more, and the next one catches up.
    """
    days = settings.BC_EXPORT_RETENTION_DAYS if days is None else days
    cutoff = (now or timezone.now()) - datetime.timedelta(days=days)
    counts = {"expired": 0}
    old = ExportJob.objects.filter(status=ExportJob.Status.READY, finished_at__lt=cutoff).exclude(file="")
    while batch := list(old.order_by("finished_at", "pk").values_list("pk", "file", "language")[:PURGE_BATCH]):
        for pk, name, language in batch:
            try:
                with storage_errors("export purge"):
                    default_storage.delete(name)  # a file already gone is not an error
            except StorageUnavailable as error:
                if recorder is not None:
                    recorder.error(f"export {pk}: {error}")
                raise
            with translation.override(language):
                message = ngettext(
                    "This download has expired: its file is deleted %(days)d day after it is made. "
                    "Select the invoices again to make a new one.",
                    "This download has expired: its file is deleted %(days)d days after it is made. "
                    "Select the invoices again to make a new one.",
                    days,
                ) % {"days": days}
            # Only a job still ready with this file (nothing else changes a ready job).
            counts["expired"] += ExportJob.objects.filter(pk=pk, status=ExportJob.Status.READY, file=name).update(
                status=ExportJob.Status.EXPIRED, file="", error=message[:300]
            )
        if recorder is not None:
            recorder.heartbeat()
    if recorder is not None:
        recorder.count("expired", counts["expired"])
    logger.info("export purge: %d export files older than %d days deleted", counts["expired"], days)
    return counts
