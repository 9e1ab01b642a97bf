"""What the code is running for: the request id and who is acting, for log records and the audit log.

One request (or one Celery task) has one **request id**: made at the edge, or taken from the
proxy's ``X-Request-ID`` when it is well formed (``request_id_accept``). It is kept in a context
variable, so every log record written while the request is served carries it
(``RequestContextFilter``), every task the request queues carries it in its message headers and
restores it while it runs (``billing_centre/observability/celery.py``), and every audit event
written meanwhile stores it (``accounts.audit``). One id follows the work from the proxy's access
log to the worker's log lines and the audit trail.

Who is acting (user id, company id, client IP) sits beside it in a second context variable, filled
by the project's request middleware (``billing_centre/observability/middleware.py``). The kernel
knows no app: the middleware may give a *resolver*, called when a record is written, so a user
that the request has not loaded yet is never loaded (and queried) for a log line.

Context variables rather than thread locals: they follow the request into ``async`` code and
are copied, not shared, by threads started with ``contextvars.copy_context``.
"""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

# The header a proxy (nginx: ``proxy_set_header X-Request-ID $request_id``) passes it in, and the
# one the response returns it in.
REQUEST_ID_HEADER = "X-Request-ID"
# What an id from outside may look like: a UUID (with or without dashes), nginx's 32 hex digits,
# or another proxy's token of letters, digits, ``-``, ``_`` and ``.``. Anything else (too short,
# too long, spaces, quotes, control characters: a log-injection attempt) is replaced by a new id.
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{7,63}")

_request_id: ContextVar[str | None] = ContextVar("bc_request_id", default=None)
# user_id, company_id, client_ip, task name...: set as a whole per request or task.
_fields: ContextVar[dict[str, Any] | None] = ContextVar("bc_log_fields", default=None)
# Called for the fields known only later (the user once authenticated); returns a dict.
_resolver: ContextVar[Callable[[], dict[str, Any]] | None] = ContextVar("bc_log_resolver", default=None)

# The fields every record carries (None when unknown), in the order the JSON log shows them.
CONTEXT_FIELDS = ("request_id", "user_id", "company_id", "client_ip")


def request_id_new() -> str:
    return uuid.uuid4().hex


def request_id_accept(value: str | None) -> str:
    """``value`` if it is a well-formed id (from the proxy's header), else a new id."""
    if value and _REQUEST_ID_RE.fullmatch(value):
        return value
    return request_id_new()


def request_id() -> str | None:
    """The id of the request or task being served, or None outside one."""
    return _request_id.get()


def log_fields_update(**fields: Any) -> None:
    """Add fields (user_id, client_ip, ...) to the current request's or task's context."""
    current = _fields.get()
    if current is None:
        _fields.set(dict(fields))
    else:
        current.update(fields)


def log_fields() -> dict[str, Any]:
    """The context fields of the current request or task, the resolved ones included."""
    fields = dict(_fields.get() or {})
    resolver = _resolver.get()
    if resolver is not None:
        try:
            fields.update(resolver())
        except Exception:  # noqa: BLE001 - a log line never fails for its context
            pass
    fields["request_id"] = _request_id.get()
    return fields


def request_context_enter(
    request_id: str, *, resolver: Callable[[], dict[str, Any]] | None = None, **fields: Any
) -> tuple:
    """Start serving one request or task under ``request_id``; give the result to ``request_context_exit``."""
    return (_request_id.set(request_id), _fields.set(dict(fields)), _resolver.set(resolver))


def request_context_exit(tokens: tuple) -> None:
    """The context from before ``request_context_enter`` is back (an outer request's, or none)."""
    _resolver.reset(tokens[2])
    _fields.reset(tokens[1])
    _request_id.reset(tokens[0])


@contextlib.contextmanager
def request_context(
    request_id: str, *, resolver: Callable[[], dict[str, Any]] | None = None, **fields: Any
) -> Iterator[None]:
    """Serve one request or task under ``request_id``; the previous context is back afterwards.

    Nested use (a task run eagerly inside a request) restores the outer request's id on exit.
    """
    tokens = request_context_enter(request_id, resolver=resolver, **fields)
    try:
        yield
    finally:
        request_context_exit(tokens)


class RequestContextFilter(logging.Filter):
    """Puts request_id, user_id, company_id and client_ip on every record (None when unknown).

    Install it on the handlers (settings.LOGGING), so records of every logger get it. A value the
    caller passed itself (``extra={"request_id": ...}``, as gunicorn's access log does) is kept.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        fields = log_fields()
        for name in CONTEXT_FIELDS:
            if getattr(record, name, None) is None:
                setattr(record, name, fields.get(name))
        for name, value in fields.items():
            if name not in CONTEXT_FIELDS and not hasattr(record, name):
                setattr(record, name, value)
        return True
