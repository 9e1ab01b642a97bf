"""Celery entry points for invoices; they load by id and call a service."""

from celery import shared_task

from .services import export_job_run


@shared_task(name="invoices.export_job_run")
def export_job_run_task(job_id: str) -> str:
    job = export_job_run(job_id=job_id)
    return job.status


@shared_task(name="invoices.fees_assess")
def fees_assess_task(trigger: str = "beat") -> dict:
    """Daily: print fees of paper invoices, late fees of invoices past due; recorded as a job run."""
    from accounts.jobs import job_run

    from .fees import fees_assess

    with job_run("fees_assess", trigger=trigger) as run:
        return dict(fees_assess(recorder=run))
