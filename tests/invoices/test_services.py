"""invoices' services called directly.

Export jobs reach their end: one build at a time under a lease, a dead build taken over, a lost
message queued again, and a bounded number of attempts before the owner is told. Tasks run
eagerly here (tests/conftest.py); tests/faults/test_exports.py does the same with real workers, a
real broker and a SIGKILL. The export pages are in test_export_jobs.py; the ``job`` fixture is in
tests/invoices/conftest.py.
"""

from __future__ import annotations

import datetime
import zipfile
from pathlib import Path

import pytest
from django.core import mail
from django.utils import timezone

from invoices import services
from invoices.models import ExportJob
from invoices.services import (
    EXPORT_JOB_MAX_ATTEMPTS,
    export_job_claim,
    export_job_run,
    export_jobs_sweep,
)

LONG_AGO = datetime.timedelta(minutes=10)


def _expire_lease(job: ExportJob) -> None:
    ExportJob.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - datetime.timedelta(seconds=1))


def _export_folder(settings, job) -> Path:
    return Path(settings.MEDIA_ROOT) / "exports" / str(job.owner_id)


def test_a_pending_job_is_claimed_by_one_build_only(job):
    claimed, token = export_job_claim(job_id=job.pk)
    assert token is not None
    assert claimed.status == ExportJob.Status.RUNNING and claimed.attempts == 1
    assert claimed.lease_expires_at > timezone.now()

    # A second worker (a redelivered message, a duplicate) gets nothing while the lease holds.
    again, second_token = export_job_claim(job_id=job.pk)
    assert second_token is None
    assert again.attempts == 1 and again.lease_token == token


def test_a_redelivered_task_for_a_job_being_built_returns_without_building(job, settings):
    export_job_claim(job_id=job.pk)

    result = export_job_run(job_id=job.pk)

    assert result.status == ExportJob.Status.RUNNING and result.attempts == 1
    assert not _export_folder(settings, job).exists()


def test_a_job_whose_build_died_is_rebuilt_from_scratch_once_its_lease_expires(job, settings):
    # Given a build that died part-way: running, 2 of 4 done, lease expired. Its half-written ZIP
    # was a temporary file of the dead worker: nothing of it is in the storage.
    export_job_claim(job_id=job.pk)
    ExportJob.objects.filter(pk=job.pk).update(done=2)
    folder = _export_folder(settings, job)
    _expire_lease(job)

    result = export_job_run(job_id=job.pk)

    assert result.status == ExportJob.Status.READY
    assert result.attempts == 2 and result.done == result.total == 4
    assert result.lease_token is None and result.lease_expires_at is None
    assert sorted(path.name for path in folder.iterdir()) == [f"{job.id}.zip"]
    archive = zipfile.ZipFile(folder / f"{job.id}.zip")
    assert archive.testzip() is None and len(archive.namelist()) == 4
    assert len(mail.outbox) == 1  # the "ready" e-mail, once


def test_a_build_that_lost_its_lease_stops_and_never_publishes_its_file(job, settings):
    # Given build A stalled past its lease and build B took the job over
    stale, token_a = export_job_claim(job_id=job.pk)
    _expire_lease(job)
    _, token_b = export_job_claim(job_id=job.pk)
    assert token_b is not None and token_b != token_a
    held_by_a = ExportJob.objects.filter(pk=job.pk, lease_token=token_a, status=ExportJob.Status.RUNNING)

    # When A writes its next file, it finds out and stops
    with pytest.raises(services._LeaseLost):
        services._export_job_build(stale, held_by_a)

    # Then A left no file and changed nothing; the job is still B's
    folder = _export_folder(settings, job)
    assert not folder.exists() or list(folder.iterdir()) == []
    job.refresh_from_db()
    assert job.status == ExportJob.Status.RUNNING and job.lease_token == token_b and job.attempts == 2


def test_a_job_out_of_attempts_whose_last_build_died_fails_and_the_owner_is_told(job):
    ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.Status.RUNNING, attempts=EXPORT_JOB_MAX_ATTEMPTS)
    _expire_lease(job)

    counts = export_jobs_sweep()

    job.refresh_from_db()
    assert counts["failed"] == 1 and counts["requeued"] == 0
    assert job.status == ExportJob.Status.FAILED
    assert job.error == "The export could not be finished. Please try again with fewer invoices."
    assert job.finished_at is not None
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [job.owner.email]
    assert "could not be prepared" in mail.outbox[0].subject
    # A late redelivery of the dead build's message changes nothing.
    assert export_job_run(job_id=job.pk).status == ExportJob.Status.FAILED
    assert len(mail.outbox) == 1


def test_sweep_queues_again_only_the_jobs_waiting_too_long(world, job):
    fresh = ExportJob.objects.create(owner=world.admin, format="xml", invoice_ids=job.invoice_ids, total=4)
    ExportJob.objects.filter(pk=job.pk).update(queued_at=timezone.now() - LONG_AGO)

    counts = export_jobs_sweep(requeue_after=datetime.timedelta(minutes=2))

    # The old one went to the broker again (eager here: built at once); the fresh one was left.
    assert counts == {"requeued": 1, "unqueued": 0, "failed": 0}
    job.refresh_from_db()
    fresh.refresh_from_db()
    assert job.status == ExportJob.Status.READY and job.attempts == 1
    assert job.queued_at > timezone.now() - LONG_AGO
    assert fresh.status == ExportJob.Status.PENDING and fresh.attempts == 0


def test_sweep_queues_again_a_running_job_whose_lease_expired(job):
    export_job_claim(job_id=job.pk)
    ExportJob.objects.filter(pk=job.pk).update(queued_at=timezone.now() - LONG_AGO)
    assert export_jobs_sweep()["requeued"] == 0  # lease still held: the build is alive

    _expire_lease(job)
    assert export_jobs_sweep()["requeued"] == 1

    job.refresh_from_db()
    assert job.status == ExportJob.Status.READY and job.attempts == 2


def test_an_unexpected_error_gives_the_job_back_until_its_attempts_run_out(job, settings):
    # A file where the job's folder should be: every build fails on the file system.
    folder = _export_folder(settings, job)
    folder.parent.mkdir(parents=True)
    folder.write_text("not a folder")

    first = export_job_run(job_id=job.pk)
    assert first.status == ExportJob.Status.PENDING and first.attempts == 1
    assert first.lease_token is None and mail.outbox == []

    for _ in range(EXPORT_JOB_MAX_ATTEMPTS - 1):
        last = export_job_run(job_id=job.pk)
    assert last.status == ExportJob.Status.FAILED and last.attempts == EXPORT_JOB_MAX_ATTEMPTS
    assert last.error == "The export could not be built. Please try again."
    assert len(mail.outbox) == 1
    # Nothing more is tried.
    assert export_job_run(job_id=job.pk).attempts == EXPORT_JOB_MAX_ATTEMPTS


def test_a_job_left_running_before_leases_existed_is_taken_over(job):
    # A row from before the lease columns: running, no lease, no attempt counted.
    ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.Status.RUNNING, lease_expires_at=None, done=1)
    ExportJob.objects.filter(pk=job.pk).update(queued_at=timezone.now() - LONG_AGO)

    assert export_jobs_sweep()["requeued"] == 1

    job.refresh_from_db()
    assert job.status == ExportJob.Status.READY and job.attempts == 1
