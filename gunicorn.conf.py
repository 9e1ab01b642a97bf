"""gunicorn's settings for Billing Centre: ``gunicorn -c gunicorn.conf.py billing_centre.wsgi``.

Everything an operator tunes comes from the environment (.env.example, docs/operations.md):

    GUNICORN_BIND             address:port, or several separated by commas (default 0.0.0.0:8000,
                              for a container; publish the port on 127.0.0.1 or behind the proxy)
    GUNICORN_WORKERS          worker processes (default 2 x CPU cores + 1)
    GUNICORN_THREADS          threads per worker (default 1: the sync worker)
    GUNICORN_TIMEOUT          seconds a request may take before its worker is killed (default 60)
    GUNICORN_GRACEFUL_TIMEOUT seconds a worker gets to finish its requests on restart/stop (default 30)
    GUNICORN_MAX_REQUESTS     a worker is replaced after this many requests, +/- the jitter, so
                              memory kept by a PDF render never grows without bound (default 1000)
    GUNICORN_MAX_REQUESTS_JITTER  (default 100: workers are not all replaced at once)
    GUNICORN_KEEPALIVE        seconds to wait for the next request on a kept-alive connection (5)
    FORWARDED_ALLOW_IPS       the proxies whose X-Forwarded-Proto gunicorn believes (default
                              127.0.0.1; in docker-compose the nginx container's network)
    GUNICORN_ACCESS_LOG       1 (default): gunicorn's access log, as JSON; 0: off (Django's
                              request line, logger billing_centre.request, has the same facts)
    PROMETHEUS_MULTIPROC_DIR  a folder of its own (emptied at start): metrics of every worker are
                              summed at /metrics (billing_centre/observability/metrics.py)

Logs: gunicorn's error and access logs go through the project's logging configuration
(billing_centre/observability/logs.py), so they are JSON lines like the application's. The access
line has duration_ms, the client's address (the trusted-proxy rule of core.client_ip, not the
proxy's address, which is kept as remote_addr) and the request id: billing_centre/observability/gunicorn.py.
Both lines stay on: gunicorn's is written even for a request Django never answered, Django's
carries the view, the user and the company.
"""

import multiprocessing
import os
import pathlib


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


bind = [address.strip() for address in os.environ.get("GUNICORN_BIND", "0.0.0.0:8000").split(",") if address.strip()]
workers = _int("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1)
threads = _int("GUNICORN_THREADS", 1)
timeout = _int("GUNICORN_TIMEOUT", 60)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
max_requests = _int("GUNICORN_MAX_REQUESTS", 1000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 100)
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# Load the application in each worker, not in the master: a worker replaced after max_requests
# starts clean, and prometheus_client's multiprocess mode needs each worker to open its own files.
preload_app = False

# Logs: JSON (or text) through the project's dictConfig, on stderr; DJANGO_LOG_FORMAT as the app.
from billing_centre.observability.logs import logging_config  # noqa: E402

_debug = os.environ.get("DJANGO_DEBUG", "1").strip().lower() in ("1", "true", "yes", "on")
logconfig_dict = logging_config(
    fmt=os.environ.get("DJANGO_LOG_FORMAT", "text" if _debug else "json"),
    level=os.environ.get("DJANGO_LOG_LEVEL", "INFO"),
)
logger_class = "billing_centre.observability.gunicorn.AccessLogger"
loglevel = os.environ.get("DJANGO_LOG_LEVEL", "info").lower()
if os.environ.get("GUNICORN_ACCESS_LOG", "1").strip() in ("0", "false", "no", "off"):
    # logconfig_dict turns gunicorn's access log on: an access logger above WARNING writes nothing.
    logconfig_dict["loggers"]["gunicorn.access"]["level"] = "WARNING"


def on_starting(server):
    """Prometheus multiprocess mode: start from an empty folder (files of a previous run are stale)."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        path = pathlib.Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()


def child_exit(server, worker):
    """A worker that exited: its live gauges leave the sums (counters and histograms stay)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
