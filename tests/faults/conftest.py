"""Fault fixtures: a private `redis-server` and real Celery workers that tests stop on purpose.

Each test gets its own Redis on a free loopback port (never the shared one of REDIS_URL), the
project's cache and Celery pointed at it, and workers started as subprocesses that read the test
database. Tests kill them (SIGKILL, or Redis stopped and started again on the same port) and then
assert on the database and the media folder that nothing was lost.

These tests need PostgreSQL (a worker process cannot share SQLite's test database) and the
`redis-server` binary; each skips with the reason otherwise.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.db import connection

from tests.processes import free_port, wait_until
from tests.workers import test_database_url, worker_start, worker_stop

BASE_DIR = Path(__file__).resolve().parents[2]
REDIS_SERVER = shutil.which("redis-server")


@dataclass
class RedisServer:
    """A `redis-server` on a loopback port of its own; stop() and start() keep the port."""

    port: int
    workdir: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        log = open(self.workdir / "redis.log", "a")  # noqa: SIM115 - kept open by the child
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_until(self.answers, timeout=15, message=f"redis-server on port {self.port}")

    def stop(self) -> None:
        """The outage: the server is killed (SIGKILL), as a crashed host would be."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def answers(self) -> bool:
        import redis

        try:
            client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5, socket_timeout=0.5)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except Exception:  # noqa: BLE001 - any failure means "not answering"
            return False

    def client(self):
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port)


@pytest.fixture
def redis_server(tmp_path):
    """A private Redis, started for the test and killed after it."""
    if not REDIS_SERVER:
        pytest.skip("redis-server is not installed (Debian package redis-server)")
    server = RedisServer(port=free_port(), workdir=tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def project_queues() -> list[str]:
    """Every queue the project routes tasks to (settings.CELERY_TASK_QUEUES), or Celery's default."""
    from django.conf import settings

    names = []
    for queue in getattr(settings, "CELERY_TASK_QUEUES", None) or []:
        names.append(getattr(queue, "name", queue))
    return names or ["celery"]


def _forget_broker_connections(app) -> None:
    """Forget every broker connection and producer pooled by the app.

    Not ``app.close()``: it also takes the app off Celery's list of active apps, and a task module
    imported after that (``shared_task``) is then never registered in it (NotRegistered when the
    task is sent). And the producer pool Celery caches in ``app.amqp`` (kombu keeps one per broker
    URL) must go too, or a test would publish to the (killed) Redis of the test before it.
    """
    from kombu import pools

    app._pool = None
    app.amqp._producer_pool = None
    pools.reset()
    _forget_result_backend(app)


def _forget_result_backend(app) -> None:
    """Forget the result backend the app built for the broker of an earlier test: Celery caches it
    (per thread, or on the app) once a result was looked at, and would wait on the wrong Redis."""
    app._backend_cache = None
    app._local.__dict__.pop("backend", None)


@pytest.fixture
def private_redis(settings, redis_server):
    """The project's cache and Celery pointed at the private Redis, tasks sent to a real broker.

    The cache uses the project's own Redis configuration (``billing_centre.settings.redis_cache``)
    so the behaviour under test is production's, not the test default of a local-memory cache.
    """
    from django.core.cache import caches

    from billing_centre import settings as project_settings
    from billing_centre.celery import app

    settings.CACHES = project_settings.redis_caches(redis_server.url)
    for alias in list(caches):
        caches[alias].close()
    saved = {key: app.conf[key] for key in ("broker_url", "result_backend", "task_always_eager")}
    _forget_broker_connections(app)  # drop connections pooled for another broker
    app.conf.broker_url = redis_server.url
    app.conf.result_backend = redis_server.url
    app.conf.task_always_eager = False
    settings.CELERY_TASK_ALWAYS_EAGER = False
    try:
        yield redis_server
    finally:
        _forget_broker_connections(app)
        app.conf.update(saved)
        for alias in list(caches):
            caches[alias].close()


@dataclass
class Worker:
    """A `celery worker --pool=solo` subprocess: one task at a time, in the process we kill."""

    name: str
    process: subprocess.Popen
    log_path: Path
    env: dict = field(repr=False, default_factory=dict)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no clean-up, no ack, exactly what an OOM kill or a lost host does."""
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        worker_stop(self.process, timeout=30)


@pytest.fixture
def start_worker(private_redis, tmp_path, settings):
    """start_worker(queues=None, extra_env=None) -> Worker, ready to consume; all stopped after the test."""
    if connection.vendor != "postgresql":
        pytest.skip("a worker process cannot share SQLite's test database: run with DATABASE_URL=postgres://…")
    started: list[Worker] = []

    def _start(*, queues: list[str] | None = None, extra_env: dict | None = None) -> Worker:
        name = f"fault-{uuid.uuid4().hex[:8]}"
        log_path = tmp_path / f"{name}.log"
        env = {
            **os.environ,
            "REDIS_URL": private_redis.url,
            "DATABASE_URL": test_database_url(),
            "DJANGO_MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "STRIPE_SECRET_KEY": "",
            **(extra_env or {}),
        }
        process = worker_start(queues=queues or project_queues(), name=name, env=env, log_path=log_path)
        worker = Worker(name=name, process=process, log_path=log_path, env=env)
        started.append(worker)
        wait_until(
            lambda: "ready." in worker.log() or not worker.alive(),
            timeout=60,
            message=f"worker {name} to be ready",
        )
        assert worker.alive(), f"worker {name} died at start:\n{worker.log()[-4000:]}"
        return worker

    try:
        yield _start
    finally:
        for worker in started:
            worker.stop()
