"""Celery application.

Without ``REDIS_URL`` the settings make every task run eagerly in the calling
process, so the embedded default (SQLite, no broker) works with no services.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_centre.settings")

app = Celery("billing_centre")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The request id travels with each task, and workers log in the project's JSON format
# (settings.LOGGING through the setup_logging signal): billing_centre/observability/celery.py.
from .observability import celery as _observability  # noqa: E402, F401
