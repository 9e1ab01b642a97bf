"""Celery entry points for invoices; they load by id and call a service."""

from celery import shared_task

from .services import export_job_run, export_jobs_sweep


# No result stored: the job's row is its state. Without a result, sending the task does not
# touch the result backend either, so a Redis outage costs the request nothing but the publish.
@shared_task(name="invoices.export_job_run", ignore_result=True)
def export_job_run_task(job_id: str) -> str:
    job = export_job_run(job_id=job_id)
    return job.status if job is not None else "missing"


@shared_task(name="invoices.export_jobs_sweep", ignore_result=True)
def export_jobs_sweep_task() -> dict:
    """Beat, every minute: export jobs whose message was lost or whose worker died, queued again."""
    return export_jobs_sweep()


@shared_task(name="invoices.fees_assess")
def fees_assess_task(trigger: str = "beat") -> dict:
    """Daily: print fees of paper invoices, late fees of invoices past due; recorded as a job run."""
    from accounts.jobs import job_run

    from .fees import fees_assess

    with job_run("fees_assess", trigger=trigger) as run:
        return dict(fees_assess(recorder=run))


@shared_task(name="invoices.export_files_purge", ignore_result=True)
def export_files_purge_task(trigger: str = "beat") -> dict:
    """Daily: export ZIPs older than BC_EXPORT_RETENTION_DAYS deleted from the storage, jobs expired."""
    from accounts.jobs import job_run

    from .retention import export_files_purge

    with job_run("export_files_purge", trigger=trigger) as run:
        return export_files_purge(recorder=run)
