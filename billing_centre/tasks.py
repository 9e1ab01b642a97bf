"""Project-level Celery tasks."""

from celery import shared_task


@shared_task(name="billing_centre.ping")
def ping(value: str = "pong") -> str:
    """A database-free round trip: proves a worker is consuming and results come back."""
    return value
