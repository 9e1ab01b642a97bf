"""A real Celery worker against the Redis of REDIS_URL runs a project task and returns its result.

Every other test runs tasks eagerly (tests/conftest.py); this one turns that off and talks to a
worker started as a subprocess, on a queue of its own so no other worker can take the task.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from tests.workers import worker_start, worker_stop

BASE_DIR = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("REDIS_URL", "")


def _redis_answers(url: str) -> bool:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # noqa: BLE001 - any failure means "not available here"
        return False


pytestmark = [
    pytest.mark.needs_redis,
    pytest.mark.needs_worker,
    pytest.mark.skipif(not REDIS_URL, reason="REDIS_URL is not set: no broker for a real worker"),
    pytest.mark.skipif(
        bool(REDIS_URL) and not _redis_answers(REDIS_URL), reason=f"Redis at {REDIS_URL} does not answer"
    ),
]


@pytest.fixture
def worker_queue(tmp_path):
    """Start `celery worker --pool=solo` on a fresh queue; stop it after the test."""
    queue = f"bc-test-{uuid.uuid4().hex[:12]}"
    log_path = tmp_path / "worker.log"
    process = worker_start(queues=[queue], name=queue, env={**os.environ, "REDIS_URL": REDIS_URL}, log_path=log_path)
    try:
        yield queue, process, log_path
    finally:
        worker_stop(process)


def test_real_worker_runs_ping_and_returns_the_result(worker_queue):
    from billing_centre.celery import app
    from billing_centre.tasks import ping

    queue, process, log_path = worker_queue
    # Undo the eager mode tests/conftest.py sets: this task must cross the broker.
    app.conf.task_always_eager = False
    assert app.conf.broker_url.startswith("redis://")

    result = ping.apply_async(args=[f"hello {queue}"], queue=queue)
    try:
        value = result.get(timeout=60)
    except Exception:
        pytest.fail(f"no result from the worker (alive: {process.poll() is None}):\n{log_path.read_text()}")

    assert value == f"hello {queue}"
    assert result.status == "SUCCESS"
    assert "billing_centre.ping" in log_path.read_text()
    result.forget()
