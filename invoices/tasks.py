"""Celery entry points for invoices; they load by id and call a service."""

from celery import shared_task

from .services import export_job_run


@shared_task(name="invoices.export_job_run")
def export_job_run_task(job_id: str) -> str:
    job = export_job_run(job_id=job_id)
    return job.status
