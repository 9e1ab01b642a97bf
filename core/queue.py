"""Queue a Celery task after the commit, without ever turning a committed write into an error.

``enqueue_on_commit(task, *args, **kwargs)`` is the one way a service queues work (e-mails,
receipts, exports): the message is published once the transaction commits (a worker never sees a
row that is not there yet), with a short publish retry so a request never waits long on a broker
that is down. If the broker cannot be reached the failure is logged and swallowed: the write
stands, and the work is not lost because every queued job has a marker in the database that a
periodic sweep reads to find what was not done and queue it again (receipts:
``Payment.receipt_sent_at`` and ``payments.payment_receipts_requeue``; exports: the job's status).
So a task queued this way must be idempotent: it may run twice (sweep and original message).

Without ``REDIS_URL`` (the embedded default) Celery runs tasks eagerly: the task runs in the
calling process right after the commit, and an error in it is logged, not raised, for the same
reason (the sweep tries again).
"""

from __future__ import annotations

import logging

from django.db import transaction

logger = logging.getLogger(__name__)

# kombu's publish retry for the request path: one quick retry, never the default of 3 retries
# with growing waits (connection timeouts come on top: broker_connection_timeout).
PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.1}


def enqueue(task, *args, **kwargs) -> bool:
    """Publish ``task(*args, **kwargs)`` now; False (logged) when it could not be queued or run."""
    try:
        task.apply_async(
            args=args,
            kwargs=kwargs,
            # Fire and forget: nobody waits on the result, and asking the result backend to watch
            # for it would be one more connection to a Redis that may be down.
            ignore_result=True,
            retry=True,
            retry_policy=PUBLISH_RETRY_POLICY,
        )
    except Exception:  # noqa: BLE001 - the broker (or an eager run) failed: the sweep picks it up
        logger.exception("Could not queue %s%r %r; left for its sweep", _name(task), args, kwargs)
        return False
    return True


def _name(task) -> str:
    try:
        return str(task.name)
    except Exception:  # noqa: BLE001 - a task proxy may fail again (not registered): never raise here
        return "<unregistered task>"


def enqueue_on_commit(task, *args, using: str | None = None, **kwargs) -> None:
    """Publish ``task(*args, **kwargs)`` after the current transaction commits (now, outside one)."""
    transaction.on_commit(lambda: enqueue(task, *args, **kwargs), using=using)
