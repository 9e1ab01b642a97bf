"""Running the suite in several processes (pytest-xdist, ``-n``): one Redis database per process.

pytest-django already gives each xdist process its own test database (``test_<name>_gw<N>``), and
the Celery workers the tests start use that database. Redis is shared unless told otherwise: a
worker started by the tests of process gw0 would take tasks that process gw1 queued, against the
wrong database. This plugin is loaded with ``-p`` (pyproject.toml's addopts), so it runs before
pytest-django reads the settings: in process gw<N> it moves ``REDIS_URL`` to the database index
``base - N`` (base 15 → 15, 14, …), for the settings and for every test and worker that reads the
environment. Without xdist it does nothing.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit


def _redis_url_for_worker(url: str, worker: int) -> str:
    parts = urlsplit(url)
    base = int(parts.path.lstrip("/") or 0)
    index = (base - worker) % 16
    return urlunsplit(parts._replace(path=f"/{index}"))


_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _worker.startswith("gw") and os.environ.get("REDIS_URL"):
    os.environ["REDIS_URL"] = _redis_url_for_worker(os.environ["REDIS_URL"], int(_worker[2:]))
