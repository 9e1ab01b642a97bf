"""``/healthz``: liveness plus the checks a load balancer needs.

The database decides: it answers 200 when a ``SELECT 1`` succeeds and 503 when
it does not, because no page works without it. The broker (Redis) is checked
only when ``REDIS_URL`` is set, and its result is reported in the JSON without
changing the status code: Celery tasks queue up and run once Redis is back,
while the web pages keep working, so taking the web servers out of rotation for
a Redis outage would turn a degraded service into no service.

Three paths, all GET, all JSON, never cached:

- ``/healthz/live``: the process is up and serving (touches nothing: no database, no Redis). A
  failing liveness probe means "restart this process".
- ``/healthz/ready``: may this process take traffic? The database decides (200/503); Redis is
  reported. A failing readiness probe means "take it out of rotation".
- ``/healthz``: the same answer as ``/healthz/ready`` (documented before the split; kept).

Load balancers probe a node by its address (``Host: 10.0.0.5:8000``) over plain HTTP, which the
host check (``ALLOWED_HOSTS``) and the HTTPS redirect would refuse. ``HealthProbeMiddleware``, first
in ``MIDDLEWARE``, answers exactly these three paths before ``SecurityMiddleware`` (the redirect)
and ``CommonMiddleware`` (``request.get_host()``, which raises ``DisallowedHost``) see the request.
The probes never read the Host header, so nothing else of the site escapes either check.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)

REDIS_TIMEOUT_SECONDS = 1.0


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # noqa: BLE001 - any database failure means not ready
        logger.exception("healthz: database check failed")
        return False
    return True


def _redis_ok(url: str) -> bool:
    import redis

    try:
        client = redis.Redis.from_url(
            url,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
        )
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # noqa: BLE001 - any broker failure is reported, not raised
        logger.warning("healthz: Redis check failed", exc_info=True)
        return False


@never_cache
@require_GET
def live(request):
    """The process is up: nothing else is checked (a restart would not fix the database)."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def healthz(request):
    checks: dict[str, str] = {}
    database_ok = _database_ok()
    checks["database"] = "ok" if database_ok else "unavailable"
    if settings.REDIS_URL:
        checks["redis"] = "ok" if _redis_ok(settings.REDIS_URL) else "unavailable"
    if not database_ok:
        status = "error"
    elif any(value != "ok" for value in checks.values()):
        status = "degraded"
    else:
        status = "ok"
    return JsonResponse({"status": status, **checks}, status=503 if not database_ok else 200)


# The readiness check, under its own name (``/healthz`` answers the same).
ready = healthz

PROBES = {"/healthz": healthz, "/healthz/live": live, "/healthz/ready": ready}


class HealthProbeMiddleware:
    """Answers the health probes before any other middleware (first in ``MIDDLEWARE``).

    Exact paths and GET/HEAD only (``/healthz/ready/`` is not a probe, nor is a POST to one):
    everything else goes down the chain and meets the host check, the HTTPS redirect and the CSRF
    check as usual.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        probe = PROBES.get(request.path_info)
        if probe is not None and request.method in ("GET", "HEAD"):
            return probe(request)
        return self.get_response(request)
