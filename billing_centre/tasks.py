"""Project-level Celery tasks."""

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="billing_centre.ping")
def ping(value: str = "pong") -> str:
    """A database-free round trip: proves a worker is consuming and results come back."""
    logger.info("ping %s", value)  # its request_id shows the id travelled with the task
    return value
