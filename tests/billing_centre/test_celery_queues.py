"""Celery is set up for faults: queues apart, time limits, and a dead worker's task given back."""

from __future__ import annotations

import pytest
from django.conf import settings


@pytest.fixture(scope="module")
def app():
    from billing_centre.celery import app

    app.loader.import_default_modules()
    return app


@pytest.mark.parametrize(
    ("task", "queue"),
    [
        ("payments.autopay_run", "payments"),
        ("payments.payment_reconcile", "payments"),
        ("invoices.export_job_run", "documents"),
        ("payments.payment_receipt_send", "mail"),
        ("invoices.export_jobs_sweep", "celery"),
        ("invoices.fees_assess", "celery"),
        ("billing_centre.ping", "celery"),
    ],
)
def test_each_task_goes_to_its_queue_so_a_big_export_never_delays_autopay(app, task, queue):
    assert task in app.tasks
    assert app.amqp.router.route({}, task)["queue"].name == queue


def test_a_message_sent_to_one_queue_lands_in_that_queue_only(app):
    # Queues bound with the same routing key would each get a copy of every message.
    keys = [queue.routing_key for queue in settings.CELERY_TASK_QUEUES]
    assert len(set(keys)) == len(keys) == 4
    for name in ("payments", "documents", "mail", "celery"):
        assert app.amqp.router.route({"queue": name}, "billing_centre.ping")["queue"].routing_key == name


def test_every_task_has_time_limits_and_exports_and_autopay_get_longer_ones(app):
    ours = [task for name, task in app.tasks.items() if not name.startswith("celery.")]
    for task in ours:
        soft = task.soft_time_limit or app.conf.task_soft_time_limit
        hard = task.time_limit or app.conf.task_time_limit
        assert soft and hard and soft < hard, task.name
    for name in ("invoices.export_job_run", "payments.autopay_run"):
        assert app.tasks[name].soft_time_limit > app.conf.task_soft_time_limit


def test_redis_redelivers_an_unacknowledged_task_only_after_the_longest_time_limit(app):
    longest = max(
        [app.conf.task_time_limit] + [task.time_limit for task in app.tasks.values() if task.time_limit is not None]
    )
    assert app.conf.broker_transport_options["visibility_timeout"] > longest


def test_a_task_whose_worker_died_is_given_back_and_pool_processes_are_recycled(app):
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_max_tasks_per_child
    assert app.conf.worker_max_memory_per_child
