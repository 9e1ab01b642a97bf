"""Real Celery worker processes for the tests that need one (tests/faults/, the Celery round trip,
the two-worker AutoPay race): one command line, one way to stop them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from django.db import connection

BASE_DIR = Path(__file__).resolve().parents[1]


def test_database_url() -> str:
    """The database pytest-django created (test_<name>), as a URL a worker process can use."""
    db = connection.settings_dict
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    host = db.get("HOST") or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{db['NAME']}"


test_database_url.__test__ = False  # a helper, not a test


def worker_start(
    *, queues: list[str], name: str, env: dict, log_path: Path, pool: str = "solo", concurrency: int = 1
) -> subprocess.Popen:
    """`celery worker --pool=solo` (one task at a time, in the process a test may kill) on ``queues``;
    ``pool="prefork"`` runs ``concurrency`` child processes, as production does."""
    with open(log_path, "w") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "billing_centre",
                "worker",
                f"--pool={pool}",
                f"--concurrency={concurrency}",
                "-Q",
                ",".join(queues),
                "-n",
                f"{name}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--prefetch-multiplier=1",
                "--loglevel=INFO",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def worker_stop(process: subprocess.Popen, *, timeout: float = 20) -> None:
    """SIGTERM (a warm shutdown), then SIGKILL if it has not stopped within ``timeout`` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
