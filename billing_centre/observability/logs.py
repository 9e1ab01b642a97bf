"""One log format for web, Celery workers and gunicorn: ``logging_config`` builds the dictConfig.

JSON (python-json-logger), one object a line, for a log shipper; or text for a person at a
terminal (``DJANGO_LOG_FORMAT=text``, the default with ``DJANGO_DEBUG=1``). Every record carries:

    time        ISO 8601 with its offset (UTC), e.g. 2026-12-08T01:10:02.123456+00:00
    level       INFO, WARNING, ERROR...
    logger      the logger's name (billing_centre.request, gunicorn.access, payments.autopay.run...)
    message     the message
    request_id  the request's (or the task's) id: core.request_context
    user_id, company_id, client_ip   who is acting, when known
    exc_info    the traceback, when there is one

plus what the call passed in ``extra`` (the request line: method, path, status, duration_ms, view).

The same function configures Django (settings.LOGGING), the Celery worker (its ``setup_logging``
signal applies settings.LOGGING: billing_centre/observability/celery.py) and gunicorn
(``logconfig_dict`` in gunicorn.conf.py), so the three write the same format to stderr. This module
imports nothing from Django: gunicorn's master reads it before any Django code is loaded.
"""

from __future__ import annotations

JSON_FIELDS = "%(levelname)s %(name)s %(message)s %(request_id)s %(user_id)s %(company_id)s %(client_ip)s"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s user=%(user_id)s ip=%(client_ip)s] %(message)s"


def logging_config(*, fmt: str = "json", level: str = "INFO") -> dict:
    """The ``logging.config.dictConfig`` of the whole project; ``fmt`` is "json" or "text"."""
    if fmt not in ("json", "text"):
        raise ValueError(f"DJANGO_LOG_FORMAT must be json or text, not {fmt!r}")
    formatters = {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": JSON_FIELDS,
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",
        },
        # With the offset: gunicorn's master logs in the machine's zone, Django in TIME_ZONE.
        "text": {"format": TEXT_FORMAT, "datefmt": "%Y-%m-%dT%H:%M:%S%z"},
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_context": {"()": "core.request_context.RequestContextFilter"}},
        "formatters": {fmt: formatters[fmt]},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": fmt,
                "filters": ["request_context"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            # Django's own per-request warnings (404s, 4xx) repeat the request line: errors only.
            "django.request": {"level": "ERROR"},
            # gunicorn's loggers write through the root handler above (no handler of their own).
            "gunicorn.error": {"level": level, "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": True},
            "celery": {"level": level},
        },
    }
