"""Recording of scheduled-job runs (``JobRun``), their leases, and the watch that alerts staff.

Use::

    with job_run("autopay_run", trigger="beat") as run:
        run.count("paid")
        run.error("INV000000123: card declined")
        run.heartbeat()  # while working: the run is alive

The record is written in its own short transactions (before and after the work), so a run that
fails is still recorded with its exception, and the work's own transactions are not widened.

A run holds a lease (``JobRun.lease_until``, ``settings.JOB_LEASE_SECONDS``) that ``heartbeat``
renews. A worker killed mid-run (SIGKILL, out of memory, a lost host) cannot record anything: its
run stays "running" until its lease expires; then the next run of the same job, or the watch,
marks it *abandoned*, and work it left half-done is taken over by a later run (AutoPay:
``payments.autopay.autopay_resume_abandoned``).

``jobs_watch`` (a beat task every 15 minutes) alerts billing staff, in the admin (*Job alerts*) and
by e-mail, once per job and day, when a daily job has not succeeded by its deadline
(``settings.JOB_DEADLINES``) or a frequent one has not succeeded for too long
(``settings.JOB_MAX_SILENCE``).
"""

from __future__ import annotations

import contextlib
import datetime
import logging
from collections import Counter
from collections.abc import Iterator

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.mail import email_queue, email_render

from .models import JobAlert, JobRun

logger = logging.getLogger(__name__)

MAX_ERRORS = 200
# Who is e-mailed about a late job: active staff with this permission (or superusers); else ADMINS.
ALERT_PERMISSION = "accounts.view_jobalert"

# What billing staff read in an alert; a job without a label is named by its code name.
JOB_LABELS = {
    "autopay_run": _("AutoPay run and scheduled one-time payments"),
    "fees_assess": _("Print fees and late fees"),
    "card_expiry_reminders": _("Card expiry reminders"),
    "payment_reconcile": _("Reconciliation of payments left processing"),
}


def lease_duration() -> datetime.timedelta:
    return datetime.timedelta(seconds=getattr(settings, "JOB_LEASE_SECONDS", 600))


class RunRecorder:
    def __init__(self, record: JobRun):
        self.record = record
        self.counts: Counter = Counter()
        self.errors: list[str] = []
        self._renewed = timezone.now()

    def count(self, key: str, n: int = 1) -> None:
        self.counts[key] += n

    def error(self, message: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(str(message)[:1000])

    def heartbeat(self) -> None:
        """The run is alive: renew its lease (one UPDATE at most every quarter of the lease)."""
        lease, now = lease_duration(), timezone.now()
        if now - self._renewed < lease / 4:
            return
        self._renewed = now
        JobRun.objects.filter(pk=self.record.pk, status=JobRun.Status.RUNNING).update(lease_until=now + lease)

    def others_running(self) -> bool:
        """Is another run of this job alive (running, within its lease)?"""
        return job_running(self.record.job, exclude=self.record.pk)


def _expired(now: datetime.datetime) -> Q:
    # Rows written before leases existed have none: their start plus one lease stands for it.
    return Q(lease_until__lt=now) | Q(lease_until__isnull=True, started_at__lt=now - lease_duration())


def job_running(job: str, *, exclude: int | None = None) -> bool:
    """Is a run of ``job`` alive now: recorded as running, and its lease not expired?"""
    now = timezone.now()
    runs = JobRun.objects.filter(job=job, status=JobRun.Status.RUNNING).exclude(_expired(now))
    if exclude is not None:
        runs = runs.exclude(pk=exclude)
    return runs.exists()


def job_runs_abandon(*, job: str | None = None) -> list[str]:
    """Mark runs still "running" past their lease as abandoned (their worker died); their jobs."""
    now = timezone.now()
    stale = JobRun.objects.filter(_expired(now), status=JobRun.Status.RUNNING)
    if job is not None:
        stale = stale.filter(job=job)
    abandoned = []
    for record in stale.order_by("id"):
        marked = JobRun.objects.filter(_expired(now), pk=record.pk, status=JobRun.Status.RUNNING).update(
            status=JobRun.Status.ABANDONED,
            finished_at=now,
            errors=[*record.errors, "abandoned: no sign of life from its worker before its lease expired"][
                -MAX_ERRORS:
            ],
        )
        if marked:
            logger.warning("Job run %s (%s) abandoned: its worker died", record.pk, record.job)
            abandoned.append(record.job)
    return abandoned


def _resend(job: str) -> None:
    """Send the task of an abandoned job again (``settings.JOB_RESUME_TASKS``); it takes the work over."""
    from celery import current_app

    name = getattr(settings, "JOB_RESUME_TASKS", {}).get(job)
    if not name:
        return
    try:
        task = current_app.tasks.get(name)
        if task is not None:
            task.apply_async(kwargs={"trigger": "resume"})
        else:  # not registered in this process (a web process): by name
            current_app.send_task(name, kwargs={"trigger": "resume"})
    except Exception:  # noqa: BLE001 - the broker is down: the next run does it
        logger.exception("Could not send %s again after its run was abandoned", name)


@contextlib.contextmanager
def job_run(job: str, *, trigger: str = "") -> Iterator[RunRecorder]:
    job_runs_abandon(job=job)  # a run of a dead worker is no longer "running"
    now = timezone.now()
    record = JobRun.objects.create(job=job, trigger=trigger, started_at=now, lease_until=now + lease_duration())
    recorder = RunRecorder(record)
    status = JobRun.Status.SUCCEEDED
    try:
        yield recorder
    except BaseException as exc:  # SoftTimeLimitExceeded and other BaseExceptions are failures too
        status = JobRun.Status.FAILED
        recorder.error(f"{type(exc).__name__}: {exc}")
        raise
    finally:
        JobRun.objects.filter(pk=record.pk).update(
            status=status,
            finished_at=timezone.now(),
            counts=dict(recorder.counts),
            errors=recorder.errors,
        )
        record.status = status
        record.counts = dict(recorder.counts)
        record.errors = recorder.errors


# --- The watch: deadlines and alerts -------------------------------------------------------------


def _deadline_passed(deadline: str, now_local: datetime.datetime) -> bool:
    hour, minute = (int(part) for part in deadline.split(":"))
    return now_local.time() >= datetime.time(hour, minute)


def staff_alert_recipients() -> list[str]:
    """Active staff who may see job alerts (``accounts.view_jobalert``, or superusers); else ADMINS.

    The same rule as the payment webhook anomalies (``payments.webhooks``), with this permission.
    """
    users = (
        get_user_model()
        .objects.with_perm(
            ALERT_PERMISSION,
            is_active=True,
            include_superusers=True,
            backend="django.contrib.auth.backends.ModelBackend",
        )
        .filter(is_staff=True)
        .exclude(email="")
    )
    return sorted({user.email for user in users}) or [address for _name, address in settings.ADMINS]


def _alert(*, job: str, day: datetime.date, deadline: str, kind: str) -> JobAlert | None:
    last_run = JobRun.objects.filter(job=job).order_by("-started_at", "-id").first()
    recipients = staff_alert_recipients()
    context = {
        "job": job,
        "label": JOB_LABELS.get(job, job),
        "day": day,
        "deadline": deadline,
        "kind": kind,
        "last_run": last_run,
        "admin_url": getattr(settings, "SITE_URL", "").rstrip("/") + "/admin/accounts/jobrun/?job=" + job,
    }
    subject, body = email_render("accounts/email/job_alert", context, language=settings.LANGUAGE_CODE)
    try:
        with transaction.atomic():
            alert = JobAlert.objects.create(
                job=job, day=day, deadline=deadline, message=body.strip(), last_run=last_run, recipients=recipients
            )
            # The outbox row commits with the alert; the e-mail task sends it (and retries) after.
            email_queue(to=recipients, subject=subject, body=body)
    except IntegrityError:
        return None  # already alerted today (another watch at the same moment)
    logger.error("Job alert: %s has not succeeded (%s, %s)", job, day, deadline)
    return alert


def jobs_watch(*, now: datetime.datetime | None = None) -> list[JobAlert]:
    """Mark runs of dead workers abandoned and send their job again (it takes the work over), then
    alert staff about each job late today (once a day)."""
    now = now or timezone.now()
    now_local = timezone.localtime(now)
    today = now_local.date()
    start_of_day = now_local.replace(hour=0, minute=0, second=0, microsecond=0)
    for job in sorted(set(job_runs_abandon())):
        if not job_running(job):
            transaction.on_commit(lambda job=job: _resend(job))
    alerted = set(JobAlert.objects.filter(day=today).values_list("job", flat=True))
    alerts = []
    for job, deadline in getattr(settings, "JOB_DEADLINES", {}).items():
        if job in alerted or not _deadline_passed(deadline, now_local):
            continue
        if JobRun.objects.filter(job=job, status=JobRun.Status.SUCCEEDED, finished_at__gte=start_of_day).exists():
            continue
        alerts.append(_alert(job=job, day=today, deadline=deadline, kind="deadline"))
    for job, seconds in getattr(settings, "JOB_MAX_SILENCE", {}).items():
        if job in alerted:
            continue
        since = now - datetime.timedelta(seconds=seconds)
        if JobRun.objects.filter(job=job, status=JobRun.Status.SUCCEEDED, finished_at__gte=since).exists():
            continue
        alerts.append(_alert(job=job, day=today, deadline=f"{seconds // 60} min", kind="silence"))
    return [alert for alert in alerts if alert is not None]
