"""PostgreSQL at scale: the read-replica router, its "read your writes" pin, planner settings.

Read replica (``DATABASE_REPLICA_URL`` set, docs/operations.md "PostgreSQL: pooler and replicas"):

- ``PrimaryReplicaRouter`` sends every write to ``default`` (the primary) and a read to ``replica``
  only inside a web request that may read from it: a safe method (GET, HEAD, OPTIONS, TRACE) from a
  client that is not pinned, before the request wrote anything, outside ``transaction.atomic`` on
  the primary. Everything else reads the primary: Celery tasks (unless a task opts in with
  ``replica_reads()``), management commands, the shell, a ``select_for_update`` (it is a write to
  the router, and inside ``atomic`` anyway), and the tables whose staleness would be a bug
  (sessions, the cache's database fallback, Celery beat's schedule).
- ``ReplicaPinMiddleware`` keeps a client on the primary right after a write: a request with an
  unsafe method, or one that wrote, answers with a signed cookie valid ``BC_REPLICA_PIN_SECONDS``
  (default 10); while it is valid every request of that client reads the primary, so a customer who
  just paid sees the invoice paid even when the replica lags behind.
- Migrations run only on ``default`` (the replica is a physical copy that follows it).

Planner settings through a pooler: ``random_page_cost`` is a libpq start-up option on a direct
connection (settings.py), which PgBouncer refuses. ``database_settings_store`` writes it on the
database itself (``ALTER DATABASE … SET``), after every ``migrate`` (``core.apps``): every new
server session then starts with it, whoever opens it (PgBouncer, psql, the replica, which copies
the setting with the catalog).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, connections, transaction

logger = logging.getLogger(__name__)

PRIMARY = "default"
REPLICA = "replica"
PIN_COOKIE = "bc_primary"
PIN_SALT = "core.database.pin"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# Tables read from the primary even in a request that may use the replica: a session or a rate-limit
# counter read from a lagging copy would log a user out or let a lock-out slip (app labels).
PRIMARY_ONLY_APPS = frozenset({"sessions", "django_cache", "django_celery_beat"})


@dataclass
class _Reads:
    """Where the current unit of work may read: set by the middleware (or ``replica_reads``)."""

    replica_ok: bool
    wrote: bool = False


# None (no web request: a Celery task, a command, the shell): every read goes to the primary.
_reads: contextvars.ContextVar[_Reads | None] = contextvars.ContextVar("bc_reads", default=None)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


@contextlib.contextmanager
def replica_reads():
    """Opt in: reads inside the block may go to the replica (a report task that tolerates lag)."""
    token = _reads.set(_Reads(replica_ok=True))
    try:
        yield
    finally:
        _reads.reset(token)


@contextlib.contextmanager
def primary_reads():
    """Every read inside the block goes to the primary (a Celery task, or code that must not lag)."""
    token = _reads.set(None)
    try:
        yield
    finally:
        _reads.reset(token)


class PrimaryReplicaRouter:
    """``DATABASE_ROUTERS`` entry when ``DATABASE_REPLICA_URL`` is set (see the module docstring)."""

    def db_for_read(self, model, **hints):
        reads = _reads.get()
        if reads is None or not reads.replica_ok or reads.wrote:
            return PRIMARY
        if model._meta.app_label in PRIMARY_ONLY_APPS:
            return PRIMARY
        if connections[PRIMARY].in_atomic_block:
            return PRIMARY  # a transaction reads what it (and the rows it locked) wrote
        return REPLICA

    def db_for_write(self, model, **hints):
        reads = _reads.get()
        if reads is not None:
            reads.wrote = True  # the rest of the request, and the client's next ones, read the primary
        return PRIMARY

    def allow_relation(self, obj1, obj2, **hints):
        return True  # one database, two copies of it

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == PRIMARY


class ReplicaPinMiddleware:
    """Reads of safe requests may use the replica; a client that wrote is pinned to the primary.

    Placed before the session and authentication middleware, so the whole request (the user, the
    view, the session save in the response) runs under its decision.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not replica_configured():
            return self.get_response(request)
        seconds = settings.REPLICA_PIN_SECONDS
        unsafe = request.method not in SAFE_METHODS
        pinned = unsafe or request.get_signed_cookie(PIN_COOKIE, default=None, salt=PIN_SALT, max_age=seconds)
        reads = _Reads(replica_ok=not pinned)
        token = _reads.set(reads)
        try:
            response = self.get_response(request)
        finally:
            _reads.reset(token)
        if unsafe or reads.wrote:
            response.set_signed_cookie(
                PIN_COOKIE,
                "1",
                salt=PIN_SALT,
                max_age=seconds,
                httponly=True,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )
        return response


def _celery_task_reads_primary() -> None:
    """A task run eagerly inside a web request reads the primary too (a worker does by default)."""
    from celery.signals import task_postrun, task_prerun

    tokens: dict[str, contextvars.Token] = {}

    @task_prerun.connect(weak=False)
    def _prerun(task_id=None, **kwargs):
        tokens[task_id] = _reads.set(None)

    @task_postrun.connect(weak=False)
    def _postrun(task_id=None, **kwargs):
        token = tokens.pop(task_id, None)
        if token is not None:
            with contextlib.suppress(ValueError):  # reset from another context: nothing to undo
                _reads.reset(token)


_celery_task_reads_primary()


def database_settings_store(*, using: str = PRIMARY) -> bool:
    """Store ``random_page_cost`` (settings.DATABASE_RANDOM_PAGE_COST) on the database; True if done.

    ``ALTER DATABASE <current> SET random_page_cost``: new server sessions start with it, which is
    how a setting reaches connections made through PgBouncer (it refuses libpq's ``options``).
    Needs the database's owner or a superuser; without the right it logs the statement for an
    operator and carries on (``migrate`` does not fail over a planner cost).
    """
    cost = getattr(settings, "DATABASE_RANDOM_PAGE_COST", None)
    connection = connections[using]
    if cost is None or connection.vendor != "postgresql":
        return False
    try:
        with transaction.atomic(using=using), connection.cursor() as cursor:
            cursor.execute("SELECT current_database()")
            name = connection.ops.quote_name(cursor.fetchone()[0])
            cursor.execute(f"ALTER DATABASE {name} SET random_page_cost = {float(cost)}")
    except DatabaseError as exc:
        logger.warning(
            "random_page_cost not stored on the database (%s); run as its owner: "
            "ALTER DATABASE <name> SET random_page_cost = %s",
            exc,
            float(cost),
        )
        return False
    return True
