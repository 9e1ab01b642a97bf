"""Recording of scheduled-job runs (``JobRun``): start, end, counts and errors.

Use::

    with job_run("autopay_run", trigger="beat") as run:
        run.count("paid")
        run.error("INV000000123: card declined")

The record is written in its own short transactions (before and after the work), so a run that
fails is still recorded with its exception, and the work's own transactions are not widened.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator

from django.utils import timezone

from .models import JobRun

MAX_ERRORS = 200


class RunRecorder:
    def __init__(self, record: JobRun):
        self.record = record
        self.counts: Counter = Counter()
        self.errors: list[str] = []

    def count(self, key: str, n: int = 1) -> None:
        self.counts[key] += n

    def error(self, message: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(str(message)[:1000])


@contextlib.contextmanager
def job_run(job: str, *, trigger: str = "") -> Iterator[RunRecorder]:
    record = JobRun.objects.create(job=job, trigger=trigger, started_at=timezone.now())
    recorder = RunRecorder(record)
    status = JobRun.Status.SUCCEEDED
    try:
        yield recorder
    except Exception as exc:
        status = JobRun.Status.FAILED
        recorder.error(f"{type(exc).__name__}: {exc}")
        raise
    finally:
        JobRun.objects.filter(pk=record.pk).update(
            status=status,
            finished_at=timezone.now(),
            counts=dict(recorder.counts),
            errors=recorder.errors,
        )
        record.status = status
        record.counts = dict(recorder.counts)
        record.errors = recorder.errors
