"""The project's cache: Redis, and the database while Redis cannot be reached (issue 13).

Most of what the cache holds only saves work (dashboard figures, table totals): without it a page
is slower, not wrong. But some of it is security state that must keep counting while Redis is
down: allauth's log-in, sign-up and password-reset rate limits (``allauth.core.ratelimit`` uses
the default cache, including a lock taken with ``cache.add``), the de-duplication of the log-in
lock-out audit event (``accounts.adapter``) and the Pay Now look-up lock-out
(``payments.services.pay_now._rate_fail``). A cache that silently ignored errors would let all of them
fail OPEN during an outage (allauth's lock would even refuse every log-in: its ``cache.add``
never succeeds), so the default cache is this wrapper:

- every call goes to the ``PRIMARY`` alias (django-redis, errors raised, short socket timeouts);
- when Redis cannot be reached, the call is answered by the ``FALLBACK`` alias (Django's
  ``DatabaseCache`` on the ``bc_cache_fallback`` table, created by a migration), and Redis is
  not tried again in this thread for ``RETRY_SECONDS`` (5 s), so an outage costs one failed
  connection per thread every few seconds, not one per cache call.

What is written to one store is not copied to the other: counters started in Redis start again
in the database when Redis goes away, and the other way round when it returns (at most one extra
window of attempts at each switch; SECURITY.md). Entries cached in the database expire on their
own timeouts; the table is culled like any DatabaseCache (``MAX_ENTRIES``).
"""

from __future__ import annotations

import base64
import logging
import pickle
import time
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache
from django.core.cache.backends.db import DatabaseCache as DjangoDatabaseCache
from django.db import connections, router, transaction
from django.utils.timezone import now as tz_now

logger = logging.getLogger(__name__)


def _unreachable_errors() -> tuple[type[BaseException], ...]:
    """What a Redis that cannot be reached raises (connection refused or reset, timeouts, READONLY…)."""
    errors: list[type[BaseException]] = [OSError]
    try:
        import redis.exceptions

        errors.append(redis.exceptions.RedisError)
    except ImportError:  # pragma: no cover - redis is a dependency
        pass
    try:
        from django_redis.exceptions import ConnectionInterrupted

        errors.append(ConnectionInterrupted)
    except ImportError:  # pragma: no cover - django-redis is a dependency
        pass
    return tuple(errors)


UNREACHABLE = _unreachable_errors()


class FailoverCache(BaseCache):
    """A cache alias that answers from ``PRIMARY`` and, while it cannot be reached, from ``FALLBACK``."""

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)
        options = params.get("OPTIONS") or {}
        self._primary_alias = options["PRIMARY"]
        self._fallback_alias = options["FALLBACK"]
        self._retry_seconds = float(options.get("RETRY_SECONDS", 5))
        # Keys whose single use is security state (allauth's "TOTP code used" markers) live in the
        # database only: kept in two stores, a code used while Redis answered could be used again
        # within its validity after a switch to the database, and the other way round.
        self._database_only = tuple(options.get("DATABASE_ONLY_PREFIXES", ()))
        self._down_until = 0.0
        self._failing = False

    @property
    def primary(self) -> BaseCache:
        return caches[self._primary_alias]

    @property
    def fallback(self) -> BaseCache:
        return caches[self._fallback_alias]

    def primary_down(self) -> bool:
        """True while this thread answers from the fallback (after a failure, for RETRY_SECONDS)."""
        return time.monotonic() < self._down_until

    def _call(self, method: str, *args, **kwargs):
        key = args[0] if args else None
        if self._database_only and isinstance(key, str) and key.startswith(self._database_only):
            return getattr(self.fallback, method)(*args, **kwargs)
        if not self.primary_down():
            try:
                answer = getattr(self.primary, method)(*args, **kwargs)
            except UNREACHABLE as exc:
                if not self._failing:
                    logger.warning("Cache: Redis unreachable (%s); the database cache answers meanwhile", exc)
                self._failing = True
                self._down_until = time.monotonic() + self._retry_seconds
            else:
                if self._failing:
                    logger.warning("Cache: Redis answers again; the database cache is no longer used")
                self._failing = False
                return answer
        return getattr(self.fallback, method)(*args, **kwargs)

    # The cache API, each call passed on unchanged (keys, versions and default timeouts are
    # resolved by the store that answers).

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("add", key, value, timeout=timeout, version=version)

    def get(self, key, default=None, version=None):
        return self._call("get", key, default=default, version=version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("set", key, value, timeout=timeout, version=version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("touch", key, timeout=timeout, version=version)

    def delete(self, key, version=None):
        return self._call("delete", key, version=version)

    def get_many(self, keys, version=None):
        return self._call("get_many", keys, version=version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("set_many", data, timeout=timeout, version=version)

    def delete_many(self, keys, version=None):
        return self._call("delete_many", keys, version=version)

    def has_key(self, key, version=None):
        return self._call("has_key", key, version=version)

    def incr(self, key, delta=1, version=None):
        return self._call("incr", key, delta=delta, version=version)

    def decr(self, key, delta=1, version=None):
        return self._call("decr", key, delta=delta, version=version)

    def clear(self):
        """Both stores: a clear must not leave stale entries to reappear at the next switch."""
        try:
            self.primary.clear()
        except UNREACHABLE:
            logger.warning("Cache: Redis unreachable; only the database cache was cleared")
        self.fallback.clear()

    def close(self, **kwargs):
        for alias in (self._primary_alias, self._fallback_alias):
            try:
                caches[alias].close(**kwargs)
            except UNREACHABLE:
                pass


class DatabaseCache(DjangoDatabaseCache):
    """Django's DatabaseCache with an ``incr`` like Redis's: atomic, and the key keeps its expiry.

    Django's own ``incr`` is a ``get`` then a ``set`` with the default timeout: two concurrent
    failures would count once, and every failure would move a lock-out window's end (Pay Now
    counts failures with ``add`` + ``incr`` in a fixed window).
    """

    def incr(self, key, delta=1, version=None):
        key = self.make_and_validate_key(key, version=version)
        db = router.db_for_write(self.cache_model_class)
        connection = connections[db]
        quote_name = connection.ops.quote_name
        table = quote_name(self._table)
        lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
        with transaction.atomic(using=db), connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {quote_name('value')} FROM {table} WHERE {quote_name('cache_key')} = %s "
                f"AND {quote_name('expires')} > %s{lock}",
                [key, connection.ops.adapt_datetimefield_value(tz_now())],
            )
            row = cursor.fetchone()
            if row is None:
                raise ValueError(f"Key '{key}' not found.")
            value = pickle.loads(base64.b64decode(row[0].encode())) + delta  # noqa: S301 - our own rows
            encoded = base64.b64encode(pickle.dumps(value, self.pickle_protocol)).decode("latin1")
            cursor.execute(
                f"UPDATE {table} SET {quote_name('value')} = %s WHERE {quote_name('cache_key')} = %s",
                [encoded, key],
            )
        return value

    def decr(self, key, delta=1, version=None):
        return self.incr(key, -delta, version=version)
