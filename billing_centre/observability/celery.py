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

Imported by billing_centre/celery.py, so web processes (which publish) and workers (which run)
both connect these handlers.
"""

from __future__ import annotations

from celery.signals import before_task_publish, setup_logging, task_postrun, task_prerun

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
def _context_exit(task_id=None, **kwargs) -> None:
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
