"""The project's cache (core.cache): the database answers while Redis cannot be reached."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from billing_centre.settings import redis_caches
from core.models import CacheEntry
from tests.processes import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_unreachable(settings):
    """The production cache configuration on a port where no Redis listens."""
    settings.CACHES = redis_caches(f"redis://127.0.0.1:{free_port()}/0")
    yield
    cache.close()


def test_the_cache_answers_from_the_database_while_redis_cannot_be_reached(redis_unreachable):
    cache.set("figures", {"open": 3}, 60)

    assert cache.get("figures") == {"open": 3}
    assert CacheEntry.objects.filter(cache_key__endswith=":figures").exists()
    # cache.add is what allauth's rate-limit lock and the audit de-duplication rely on.
    assert cache.add("lock", 1, 10) is True
    assert cache.add("lock", 1, 10) is False
    cache.delete("lock")
    assert cache.add("lock", 1, 10) is True


def test_a_counter_in_the_database_keeps_its_window_when_it_counts(redis_unreachable):
    cache.add("paynow:ip:192.0.2.1", 0, 900)
    expires = CacheEntry.objects.get(cache_key__endswith="paynow:ip:192.0.2.1").expires

    assert [cache.incr("paynow:ip:192.0.2.1") for _ in range(3)] == [1, 2, 3]
    assert CacheEntry.objects.get(cache_key__endswith="paynow:ip:192.0.2.1").expires == expires
    with pytest.raises(ValueError):
        cache.incr("never-set")
