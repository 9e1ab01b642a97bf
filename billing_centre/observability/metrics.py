"""``/metrics``: Prometheus metrics, closed to the public.

Answered only to a scraper that sends ``Authorization: Bearer <BC_METRICS_TOKEN>`` (compared in
constant time) or that connects from an address in ``BC_METRICS_ALLOWED_IPS`` (the socket's
``REMOTE_ADDR``, never ``X-Forwarded-For``, which a client writes); anyone else gets the site's 404,
so the endpoint's existence is not given away. With neither setting, nobody is let in.

What it serves:

- the metrics the code moves (core.metrics): request latency by view, payments by outcome, AutoPay
  run duration and outcomes; with ``PROMETHEUS_MULTIPROC_DIR`` set, summed over every gunicorn
  worker of this host (prometheus_client's multiprocess mode, see gunicorn.conf.py);
- computed when scraped, from the shared state every host sees alike:
  ``bc_celery_queue_length{queue}`` (Redis ``LLEN`` of each queue in ``CELERY_TASK_QUEUES``, with
  ``bc_celery_broker_up`` 0 and no lengths while Redis cannot be reached) and, per daily or
  frequent job, ``bc_job_last_success_timestamp_seconds`` / ``bc_job_last_success_age_seconds``
  (from ``accounts.JobRun``; ``+Inf`` age for a job that never succeeded), and of each job's last
  finished run ``bc_job_last_run_duration_seconds``, ``bc_job_last_run_failed`` and
  ``bc_job_last_run_items{outcome}``: AutoPay runs in a worker, whose own counters no web host
  serves, so its duration and counts are read from its run record.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import math
import os

from django.conf import settings
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.utils import timezone
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

logger = logging.getLogger(__name__)

# kombu's Redis transport keeps a queue's messages of priority p (p > 0) under "<queue>\x06\x16<p>".
_PRIORITY_SEPARATOR = "\x06\x16"
_PRIORITY_STEPS = (0, 3, 6, 9)
REDIS_TIMEOUT_SECONDS = 1.0


def _allowed(request) -> bool:
    token = getattr(settings, "METRICS_TOKEN", "")
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        if hmac.compare_digest(header[len("Bearer ") :].strip().encode(), token.encode()):
            return True
    networks = getattr(settings, "METRICS_ALLOWED_IPS", [])
    if networks:
        try:
            address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
        except ValueError:
            return False
        for network in networks:
            try:
                if address in ipaddress.ip_network(network, strict=False):
                    return True
            except ValueError:
                logger.warning("BC_METRICS_ALLOWED_IPS: %r is not an address or network", network)
    return False


class QueueDepthCollector:
    """``bc_celery_queue_length{queue}``: messages waiting in each Celery queue, asked of Redis now."""

    def collect(self):
        up = GaugeMetricFamily("bc_celery_broker_up", "1 if the broker (Redis) answered this scrape, else 0.")
        length = GaugeMetricFamily(
            "bc_celery_queue_length", "Messages waiting in each Celery queue (Redis LLEN).", labels=["queue"]
        )
        url = settings.CELERY_BROKER_URL
        if not url.startswith(("redis://", "rediss://", "unix://")):
            return  # memory:// (no REDIS_URL): tasks run eagerly, nothing ever waits
        try:
            import redis

            client = redis.Redis.from_url(
                url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS
            )
            try:
                pipe = client.pipeline(transaction=False)
                names = [queue.name for queue in settings.CELERY_TASK_QUEUES]
                for name in names:
                    for step in _PRIORITY_STEPS:
                        pipe.llen(name if step == 0 else f"{name}{_PRIORITY_SEPARATOR}{step}")
                lengths = pipe.execute()
            finally:
                client.close()
        except Exception:  # noqa: BLE001 - Redis down: say so, never fail the scrape
            logger.warning("metrics: the broker did not answer", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        per = len(_PRIORITY_STEPS)
        for i, name in enumerate(names):
            length.add_metric([name], sum(lengths[i * per : (i + 1) * per]))
        up.add_metric([], 1)
        yield up
        yield length


class JobAgeCollector:
    """Per job: when its last successful run finished, and how long ago (from accounts.JobRun)."""

    def collect(self):
        from django.db.models import Max

        from accounts.models import JobRun

        jobs = set(getattr(settings, "JOB_DEADLINES", {})) | set(getattr(settings, "JOB_MAX_SILENCE", {}))
        try:
            finished = dict(
                JobRun.objects.filter(status=JobRun.Status.SUCCEEDED)
                .values("job")
                .annotate(last=Max("finished_at"))
                .values_list("job", "last")
            )
        except Exception:  # noqa: BLE001 - the database is down: the scrape still answers
            logger.warning("metrics: could not read the job runs", exc_info=True)
            return
        stamp = GaugeMetricFamily(
            "bc_job_last_success_timestamp_seconds",
            "Unix time the job's last successful run finished.",
            labels=["job"],
        )
        age = GaugeMetricFamily(
            "bc_job_last_success_age_seconds",
            "Seconds since the job's last successful run finished (+Inf: it never succeeded).",
            labels=["job"],
        )
        now = timezone.now()
        for job in sorted(jobs | {job for job, last in finished.items() if last is not None}):
            last = finished.get(job)
            if last is None:
                age.add_metric([job], math.inf)
                continue
            stamp.add_metric([job], last.timestamp())
            age.add_metric([job], max(0.0, (now - last).total_seconds()))
        yield stamp
        yield age


class JobLastRunCollector:
    """Per job, its last finished run (from accounts.JobRun): how long it took, what it did, whether
    it failed. Jobs run in Celery workers (AutoPay above all), whose own counters no web host
    serves; the run's record is in the database every host reads, so any host reports it alike.
    """

    def collect(self):
        from django.db.models import F, Window
        from django.db.models.functions import RowNumber

        from accounts.models import JobRun

        try:
            runs = list(
                JobRun.objects.filter(finished_at__isnull=False)
                .annotate(rank=Window(RowNumber(), partition_by=[F("job")], order_by=F("finished_at").desc()))
                .filter(rank=1)
                .values_list("job", "status", "started_at", "finished_at", "counts")
            )
        except Exception:  # noqa: BLE001 - the database is down: the scrape still answers
            logger.warning("metrics: could not read the job runs", exc_info=True)
            return
        duration = GaugeMetricFamily(
            "bc_job_last_run_duration_seconds", "How long the job's last finished run took.", labels=["job"]
        )
        failed = GaugeMetricFamily(
            "bc_job_last_run_failed",
            "1 if the job's last finished run failed or was abandoned, else 0.",
            labels=["job"],
        )
        items = GaugeMetricFamily(
            "bc_job_last_run_items",
            "What the job's last finished run did, by outcome (AutoPay: paid, declined, skipped...).",
            labels=["job", "outcome"],
        )
        for job, status, started_at, finished_at, counts in sorted(runs, key=lambda run: run[0]):
            duration.add_metric([job], max(0.0, (finished_at - started_at).total_seconds()))
            failed.add_metric([job], 0 if status == JobRun.Status.SUCCEEDED else 1)
            for outcome, value in sorted((counts or {}).items()):
                if isinstance(value, int | float) and not isinstance(value, bool):
                    items.add_metric([job, str(outcome)], value)
        yield duration
        yield failed
        yield items


def _process_registry():
    """The metrics the code moves: this process's, or every worker's in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return registry
    return REGISTRY


def metrics_text() -> bytes:
    scraped = CollectorRegistry(auto_describe=False)
    scraped.register(QueueDepthCollector())
    scraped.register(JobAgeCollector())
    scraped.register(JobLastRunCollector())
    return generate_latest(_process_registry()) + generate_latest(scraped)


@never_cache
def metrics(request):
    if not _allowed(request):  # first: to anyone else, every method answers 404
        raise Http404
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)
