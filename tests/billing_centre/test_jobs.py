"""Scheduled jobs: beat schedule, tasks and management commands, and their run records (JobRun)."""

from __future__ import annotations

from pathlib import Path

import pytest
from celery.schedules import crontab
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

from accounts.jobs import job_run
from accounts.models import JobRun

pytestmark = pytest.mark.django_db

BASE_DIR = Path(__file__).resolve().parents[2]


def test_beat_runs_autopay_in_the_seoul_morning_and_reconciles_every_15_minutes():
    schedule = settings.CELERY_BEAT_SCHEDULE

    assert settings.CELERY_TIMEZONE == "Asia/Seoul"
    autopay = schedule["payments-autopay-run"]
    assert autopay["task"] == "payments.autopay_run"
    assert isinstance(autopay["schedule"], crontab)
    assert autopay["schedule"].hour == {7}
    assert schedule["payments-reconcile"]["schedule"] == 900.0
    assert schedule["invoices-assess-fees"]["task"] == "invoices.fees_assess"
    assert schedule["payments-expiry-reminders"]["task"] == "payments.card_expiry_reminders_send"


def test_every_beat_task_is_registered_with_the_celery_app():
    from billing_centre.celery import app

    app.loader.import_default_modules()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks, entry["task"]


def test_docker_compose_runs_a_worker_and_a_beat():
    compose = (BASE_DIR / "docker-compose.yml").read_text()

    assert '"celery", "-A", "billing_centre", "worker"' in compose
    assert '"celery", "-A", "billing_centre", "beat"' in compose


@pytest.mark.parametrize(
    "command, job",
    [
        ("autopay_run", "autopay_run"),
        ("assess_fees", "fees_assess"),
        ("send_expiry_reminders", "card_expiry_reminders"),
    ],
)
def test_each_job_command_records_its_run(command, job):
    call_command(command)

    run = JobRun.objects.get(job=job)
    assert run.trigger == "command"
    assert run.status == JobRun.Status.SUCCEEDED
    assert run.started_at <= run.finished_at
    assert isinstance(run.counts, dict)


@pytest.mark.parametrize(
    "task_path, job",
    [
        ("payments.tasks.autopay_run_task", "autopay_run"),
        ("invoices.tasks.fees_assess_task", "fees_assess"),
        ("payments.tasks.card_expiry_reminders_send_task", "card_expiry_reminders"),
        ("payments.tasks.payment_reconcile_task", "payment_reconcile"),
    ],
)
def test_each_job_task_records_its_run(task_path, job):
    import importlib

    module, name = task_path.rsplit(".", 1)
    task = getattr(importlib.import_module(module), name)

    task.delay()

    run = JobRun.objects.get(job=job)
    assert run.status == JobRun.Status.SUCCEEDED
    assert run.trigger == "beat"


def test_a_failing_job_is_recorded_with_its_error():
    with pytest.raises(RuntimeError):
        with job_run("demo", trigger="test") as run:
            run.count("done", 2)
            raise RuntimeError("gateway down")

    record = JobRun.objects.get(job="demo")
    assert record.status == JobRun.Status.FAILED
    assert record.counts == {"done": 2}
    assert record.errors == ["RuntimeError: gateway down"]
    assert record.finished_at is not None


def test_a_command_with_a_bad_date_says_so():
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="Not a date"):
        call_command("autopay_run", "--date", "yesterday")


def test_the_autopay_command_runs_as_of_a_given_date():
    call_command("autopay_run", "--date", "2026-03-02")

    assert JobRun.objects.filter(job="autopay_run", status=JobRun.Status.SUCCEEDED).exists()


def test_job_runs_are_visible_and_read_only_in_the_admin(client):
    from tests.accounts.factories import UserFactory

    staff = UserFactory(username="jobstaff", is_staff=True, is_superuser=True)
    client.force_login(staff)
    with job_run("autopay_run", trigger="beat") as run:
        run.count("paid", 3)
    record = JobRun.objects.get()

    changelist = client.get(reverse("admin:accounts_jobrun_changelist"))
    change = client.get(reverse("admin:accounts_jobrun_change", args=[record.pk]))

    assert changelist.status_code == 200
    assert "autopay_run" in changelist.content.decode()
    assert change.status_code == 200
    assert b'name="_save"' not in change.content
    assert client.get(reverse("admin:accounts_jobrun_add")).status_code == 403
    assert client.post(reverse("admin:accounts_jobrun_delete", args=[record.pk]), {"post": "yes"}).status_code == 403
    assert JobRun.objects.filter(pk=record.pk).exists()
