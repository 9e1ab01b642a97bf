"""``/healthz``: liveness plus the checks a load balancer needs.

The database decides: it answers 200 when a ``SELECT 1`` succeeds and 503 when
it does not, because no page works without it. The broker (Redis) is checked
only when ``REDIS_URL`` is set, and its result is reported in the JSON without
changing the status code: Celery tasks queue up and run once Redis is back,
while the web pages keep working, so taking the web servers out of rotation for
a Redis outage would turn a degraded service into no service.
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
