"""Celery: the request id travels with each task; the worker logs in the project's format.

- ``before_task_publish``: the message's headers get the id of the request (or task) that queues
  it. A task queued ``on_commit`` (core.queue) is published when the request's transaction
  commits, inside the request, so it carries that request's id.
- ``task_prerun`` / ``task_postrun``: the task runs under the id from its headers (a task sent by
  beat has none: it gets a new one), with the task's name and id on its log records; afterwards
  the context from before is back. That matters for a task run eagerly inside a request (no
  ``REDIS_URL``): it keeps the request's id, and the request keeps its own after it.
- ``setup_logging``: the worker applies settings.LOGGING instead of configuring its own root logger
  (``worker_hijack_root_logger`` is off too), so its records are JSON with the same fields.
- ``worker_init``: with ``BC_WORKER_METRICS_PORT`` set, the worker's main process serves its
  Prometheus metrics (payments settled and AutoPay runs in this worker, ``bc_celery_tasks_total``)
  on that port of ``BC_WORKER_METRICS_ADDRESS`` (127.0.0.1 unless told: no authentication, so a
  private address only). With ``PROMETHEUS_MULTIPROC_DIR`` (a folder of the worker's own, existing
  and empty when it starts), the sums of every pool process are served, as gunicorn.conf.py does
  for the web.

Imported by billing_centre/celery.py, so web processes (which publish) and workers (which run)
both connect these handlers.
"""

from __future__ import annotations

import logging
import os

from celery.signals import (
    before_task_publish,
    setup_logging,
    task_postrun,
    task_prerun,
    worker_init,
    worker_process_shutdown,
)

from core.request_context import request_context_enter, request_context_exit, request_id, request_id_new

# The message header that carries the id (Celery keeps custom headers in task.request).
HEADER = "bc_request_id"
_contexts: dict[str, tuple] = {}


@before_task_publish.connect(weak=False)
def _headers_add_request_id(headers=None, **kwargs) -> None:
    if headers is not None and HEADER not in headers:
        current = request_id()
        if current:
            headers[HEADER] = current


@task_prerun.connect(weak=False)
def _context_enter(task_id=None, task=None, **kwargs) -> None:
    request = getattr(task, "request", None)
    carried = getattr(request, HEADER, None) or (getattr(request, "headers", None) or {}).get(HEADER)
    if not carried and getattr(request, "is_eager", False):
        carried = request_id()  # run in the calling process: the caller's id
    _contexts[task_id] = request_context_enter(
        carried or request_id_new(), task_name=getattr(task, "name", None), task_id=task_id
    )


@task_postrun.connect(weak=False)
def _context_exit(task_id=None, task=None, state=None, **kwargs) -> None:
    # Imported here, not with this module: gunicorn's master imports the project package (and so
    # this module) before gunicorn.conf.py has made PROMETHEUS_MULTIPROC_DIR ready for metrics files.
    from core.metrics import CELERY_TASKS

    CELERY_TASKS.labels(task=getattr(task, "name", None) or "unknown", state=state or "unknown").inc()
    tokens = _contexts.pop(task_id, None)
    if tokens is not None:
        try:
            request_context_exit(tokens)
        except ValueError:  # entered in another context (never with prefork or eager runs)
            pass


@setup_logging.connect(weak=False)
def _logging_from_settings(**kwargs) -> None:
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


logger = logging.getLogger(__name__)


@worker_init.connect(weak=False)
def _metrics_server_start(**kwargs) -> None:
    port = os.environ.get("BC_WORKER_METRICS_PORT", "").strip()
    if not port:
        return
    from prometheus_client import REGISTRY, CollectorRegistry, start_http_server

    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # The folder must exist, empty, before the worker starts (a tmpfs: docker-compose.yml):
        # this process already keeps its own metrics there, opened when the project was imported.
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    address = os.environ.get("BC_WORKER_METRICS_ADDRESS", "127.0.0.1")
    start_http_server(int(port), addr=address, registry=registry)
    logger.info("worker metrics on http://%s:%s/metrics", address, port)


@worker_process_shutdown.connect(weak=False)
def _metrics_process_dead(pid=None, **kwargs) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())
