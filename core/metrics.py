"""The Prometheus metrics the code moves (prometheus_client), defined once for every app.

Served at ``/metrics`` (``billing_centre/observability/metrics.py``, closed to the public) with
the ones computed when scraped (queue depth, age of each daily job's last success). With
``PROMETHEUS_MULTIPROC_DIR`` set (gunicorn with several workers, gunicorn.conf.py) prometheus_client
keeps these in files of that folder, so any worker's scrape shows the sum of all of them.

Names and what to alert on: docs/operations.md, "Observing".
"""

from __future__ import annotations

import os

# An empty PROMETHEUS_MULTIPROC_DIR (a blank line copied from .env.example) would make
# prometheus_client write its files into the working directory: empty means unset.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR") == "":
    del os.environ["PROMETHEUS_MULTIPROC_DIR"]

from prometheus_client import Counter, Histogram  # noqa: E402

# Latency of every request but the health probes, by Django view (its URL name, "unmatched" for a
# 404 no pattern took) and method. Buckets up to 30 s: a bulk download or a slow gateway is long.
HTTP_REQUEST_SECONDS = Histogram(
    "bc_http_request_duration_seconds",
    "Time to answer a request, by view and method.",
    ["view", "method"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
HTTP_RESPONSES = Counter(
    "bc_http_responses",
    "Responses, by view, method and status class (2xx, 3xx, 4xx, 5xx).",
    ["view", "method", "status"],
)
# Moved once per payment when its final status is committed (payments.services.status).
PAYMENTS_FINAL = Counter(
    "bc_payments_final",
    "Payments that reached a final status (succeeded, failed, cancelled), by that status.",
    ["outcome"],
)
# The daily AutoPay run (payments.autopay.run.autopay_run): how long, and what it did.
AUTOPAY_RUN_SECONDS = Histogram(
    "bc_autopay_run_duration_seconds",
    "Duration of an AutoPay run (scheduled one-time payments and every live schedule).",
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600),
)
AUTOPAY_RUN_OUTCOMES = Counter(
    "bc_autopay_run_outcomes",
    "What AutoPay runs did, by outcome (paid, skipped_over_limit, errors, ...).",
    ["outcome"],
)
# Every Celery task that ended, by name and final state (SUCCESS, FAILURE, RETRY...), counted where
# it ran: in a worker, served by the worker's own exporter (BC_WORKER_METRICS_PORT,
# billing_centre/observability/celery.py); run eagerly (no REDIS_URL), by the web's /metrics.
CELERY_TASKS = Counter("bc_celery_tasks", "Celery tasks that ended, by task name and state.", ["task", "state"])
