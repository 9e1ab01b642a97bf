"""The daily AutoPay run: scheduled one-time payments, then every live schedule, paid in batches.

The run never pays an invoice twice, even when two runs overlap (two workers, a run and a
retry). Each schedule is paid as one batch (``autopay_schedule_run``): holding the schedule's row
lock, the run *claims* an ``AutoPayAttempt`` row per due invoice, which the database allows once per
(schedule, invoice, attempt number) and once per (schedule, invoice, run day), and writes each
claimed invoice's payment as *processing* through ``payments_open`` with the attempt's idempotency
key (``autopay:<schedule>:<invoice>:<attempt>``), which locks the invoice rows and re-checks the
balance against payments in flight; then it commits. A run that comes second waits for the lock,
finds the day's attempts and leaves those invoices alone. Only then is the gateway asked to charge,
one payment after the other, and the answers are settled together (``payments_settle``). A soft
decline is final for its key and is tried again on a later run with the next attempt number (at
most ``MAX_RETRIES`` times); a hard decline pauses the schedule and stops that day's charges (the
payments left are failed as ``not_sent``, never sent, and tried again once AutoPay is resumed); an
unknown outcome stays *processing* until ``payment_reconcile`` settles it and is never tried again
meanwhile.

Lock order: the schedule row (claims, take-over), then the payments (by id), then their invoices,
last, in id order (``payments_open`` and ``payments_settle`` take them through ``invoices_lock``).
"""

from __future__ import annotations

import datetime
import logging
import time
from collections import Counter

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.audit import audit_event_build
from accounts.models import AuditEvent
from core.exceptions import ApplicationError
from core.metrics import AUTOPAY_RUN_OUTCOMES, AUTOPAY_RUN_SECONDS

from ..gateways import ChargeResult
from ..gateways import Outcome as GatewayOutcome
from ..models import AutoPayAttempt, AutoPaySchedule, Payment, PaymentStatus
from ..services.charge import NOT_SENT, PaymentSource, payment_charge
from ..services.checkout import PaymentRequest, payments_open
from ..services.settlement import payment_reconcile, payment_scheduled_run, payments_settle
from ..services.status import rows_update
from .notices import autopay_notice_schedule
from .rules import (
    Outcome,
    attempt_key,
    attempt_outcome_of,
    attempts_gave_up,
    attempts_in_progress,
    classify,
    decline_is_soft,
    invoice_due_for_run,
    schedule_live_on,
)
from .selectors import attempt_history, autopay_recipients, checks_by_invoice, schedule_invoices
from .services import autopay_pause

logger = logging.getLogger(__name__)

# A run opens, charges and records payments this many at a time, and looks at its schedule's
# status before each chunk: a pause made meanwhile (by a person, or a deleted payment method)
# stops the charges left. Payments wait processing-but-unsent for one chunk's charges at most.
CHUNK = 25


def autopay_attempts_sync() -> int:
    """Attempts left *processing* take the outcome reconciliation found for their payment."""
    changed = 0
    for attempt in AutoPayAttempt.objects.filter(outcome=Outcome.PROCESSING, payment__isnull=False).select_related(
        "payment"
    ):
        fields = attempt_outcome_of(attempt.payment)
        if fields["outcome"] == Outcome.PROCESSING:
            continue
        AutoPayAttempt.objects.filter(pk=attempt.pk, outcome=Outcome.PROCESSING).update(**fields)
        changed += 1
    return changed


def _no_heartbeat() -> None:
    """An unrecorded run (a shell, a test) holds no lease."""


def autopay_run(*, today: datetime.date | None = None, recorder=None) -> Counter:
    """The daily job: scheduled one-time payments, then every live AutoPay schedule."""
    started = time.monotonic()
    counts = _autopay_run(today=today or timezone.localdate(), recorder=recorder)
    # Metrics (core.metrics): the run's duration, and its counts by outcome.
    AUTOPAY_RUN_SECONDS.observe(time.monotonic() - started)
    for outcome, n in counts.items():
        AUTOPAY_RUN_OUTCOMES.labels(outcome=outcome).inc(n)
    return counts


def _autopay_run(*, today: datetime.date, recorder=None) -> Counter:
    counts: Counter = Counter()
    # Alive: renews the run's lease (at most one UPDATE per quarter lease), called in every loop of
    # the run, not only after a charge, so a slow gateway or many scheduled payments first never
    # let the watch take a live run for a dead one.
    heartbeat = recorder.heartbeat if recorder is not None else _no_heartbeat

    def error(message: str) -> None:
        counts["errors"] += 1
        if recorder is not None:
            recorder.error(message)

    for payment_id in (
        Payment.objects.filter(status=PaymentStatus.SCHEDULED, scheduled_for__lte=today)
        .order_by("scheduled_for", "id")
        .values_list("id", flat=True)
    ):
        heartbeat()
        try:
            payment = payment_scheduled_run(payment_id=payment_id)
            counts[f"scheduled_{payment.status}"] += 1
        except Exception as exc:  # noqa: BLE001 - one payment's failure must not stop the run
            logger.exception("Scheduled payment %s failed", payment_id)
            error(f"scheduled payment {payment_id}: {type(exc).__name__}: {exc}")

    counts["synced"] += autopay_attempts_sync()
    heartbeat()
    # What a run whose worker died left half-done is finished first, when no other run is alive.
    # An unrecorded call (a shell, a test) cannot tell whether another run is alive: it never does.
    if recorder is not None and not recorder.others_running():
        counts.update(
            autopay_resume_abandoned(today=today, claimed_before=recorder.record.started_at, heartbeat=heartbeat)
        )

    schedule_ids = list(
        AutoPaySchedule.objects.filter(status=AutoPaySchedule.Status.ACTIVE, start_date__lte=today)
        .filter(Q(until_date__isnull=True) | Q(until_date__gte=today))
        .order_by("id")
        .values_list("id", flat=True)
    )
    for schedule_id in schedule_ids:
        heartbeat()
        try:
            counts.update(autopay_schedule_run(schedule_id=schedule_id, today=today, heartbeat=heartbeat))
        except Exception as exc:  # noqa: BLE001
            logger.exception("AutoPay schedule %s failed", schedule_id)
            error(f"AutoPay schedule {schedule_id}: {type(exc).__name__}: {exc}")
    counts["schedules"] += len(schedule_ids)
    if recorder is not None:
        for key, value in counts.items():
            recorder.count(key, value)
    return counts


def autopay_schedule_run(*, schedule_id: int, today: datetime.date, heartbeat=None) -> Counter:
    """Pay what one schedule owes today; one attempt row (and at most one payment) per invoice per run.

    Batched, so that the queries do not grow with the invoices beyond the gateway's own:

    1. ``_claim``: one transaction that holds the schedule's row lock inserts the day's attempts
       and commits. A second run waits for the lock, then finds today's attempts and leaves
       those invoices alone;
    2. then, ``CHUNK`` attempts at a time (``_pay_chunk``): the schedule must still be active;
       their payments are opened as *processing* (``payments_open``: locks, balances re-checked,
       credits first) and committed; the gateway is asked to charge each (``payment_charge``
       sends a payment only while it is processing and unsent); one transaction settles the
       answers (``payments_settle``), records each attempt's outcome and audit event, and
       pauses the schedule after a hard decline; receipts and notices go out after the commit.

    A hard decline, or a pause made meanwhile, stops the run: the payments of the chunk not yet
    sent fail as ``not_sent`` (never sent; retried once AutoPay is resumed), and the attempts
    of later chunks are removed, as if the run had not reached them. A crash (a worker killed)
    leaves claimed attempts without a payment, and processing payments sent or not: the next
    recorded run finishes them once the dead run's lease has expired
    (``autopay_resume_abandoned``), and ``payment_reconcile`` settles the ones sent meanwhile;
    nothing is charged twice.
    """
    counts: Counter = Counter()
    claimed = _claim(schedule_id, today, counts)
    if claimed is None:
        return counts
    schedule, source, paying = claimed
    _pay_chunks(schedule, source, paying, counts, heartbeat)
    return counts


def _pay_chunks(schedule, source, paying: list[AutoPayAttempt], counts: Counter, heartbeat=None) -> None:
    """Pay ``paying`` ``CHUNK`` at a time while the schedule stays active; see ``autopay_schedule_run``."""
    for start in range(0, len(paying), CHUNK):
        chunk = paying[start : start + CHUNK]
        active = AutoPaySchedule.objects.filter(pk=schedule.pk, status=AutoPaySchedule.Status.ACTIVE).exists()
        if not active or not _pay_chunk(schedule, source, chunk, counts, heartbeat):
            # Stopped: the invoices not reached are not attempted today; payments opened for them
            # (by a run that died) and never sent fail as not sent.
            left = paying[start if not active else start + CHUNK :]
            AutoPayAttempt.objects.filter(
                pk__in=[a.pk for a in left], outcome=Outcome.PENDING, payment__isnull=True
            ).delete()
            opened = [a for a in left if a.payment_id is not None]
            if opened:
                _record(schedule, [], opened, hard_decline=False, counts=counts)
            break


# Attempts a run left unfinished: claimed without a payment, or with a payment still processing.
UNFINISHED = Q(outcome=Outcome.PENDING, payment__isnull=True) | Q(
    outcome__in=(Outcome.PENDING, Outcome.PROCESSING), payment__status=PaymentStatus.PROCESSING
)


def autopay_resume_abandoned(
    *, today: datetime.date, claimed_before: datetime.datetime | None = None, heartbeat=None
) -> Counter:
    """Finish what runs whose worker died left half-done (the caller made sure none is alive).

    Only attempts claimed before ``claimed_before`` (the caller's start) are taken over: a run
    that started after the caller looked for live runs is alive, and its claims are its own.

    Per schedule, under its row lock: claims that never got a payment are removed, as if the dead
    run had not reached them (the caller's claim takes their invoices again, with every check
    made anew); payments opened and sent are asked of the gateway (``payment_reconcile``: settled
    if it has them, else left to reconciliation, never sent again); payments opened and never sent
    are charged as a run charges them (``_pay_chunks``), with their own keys, so that an invoice is
    charged once whoever gets there first. A schedule no longer active (paused, cancelled) or
    whose method changed sends none of them: they fail as never sent.
    """
    counts: Counter = Counter()
    unfinished = AutoPayAttempt.objects.filter(UNFINISHED, run_on__lte=today)
    if claimed_before is not None:
        unfinished = unfinished.filter(created_at__lt=claimed_before)
    schedule_ids = list(unfinished.order_by("schedule_id").values_list("schedule_id", flat=True).distinct())
    for schedule_id in schedule_ids:
        if heartbeat is not None:
            heartbeat()
        try:
            counts.update(_resume_schedule(schedule_id, unfinished.filter(schedule_id=schedule_id), today, heartbeat))
        except Exception:  # noqa: BLE001 - one schedule must not stop the others
            logger.exception("AutoPay schedule %s: the work of a dead run could not be resumed", schedule_id)
            counts["errors"] += 1
    return counts


def _resume_schedule(
    schedule_id: int, unfinished: QuerySet[AutoPayAttempt], today: datetime.date, heartbeat
) -> Counter:
    """``autopay_resume_abandoned`` of one schedule: ``unfinished`` are its attempts to finish."""
    counts: Counter = Counter()
    with transaction.atomic():
        schedule = (
            AutoPaySchedule.objects.select_for_update(of=("self",))
            .select_related("company", "account", "plan", "method", "created_by")
            .get(pk=schedule_id)
        )
        left = list(
            unfinished.select_related("invoice", "payment").order_by("invoice__due_date", "invoice__number", "id")
        )
        claims = [a for a in left if a.payment_id is None]
        AutoPayAttempt.objects.filter(pk__in=[a.pk for a in claims], payment__isnull=True).delete()
        opened = [a for a in left if a.payment_id is not None]
        # Finished today: today's attempts (a claim of today sees them and tries none twice a day).
        AutoPayAttempt.objects.filter(pk__in=[a.pk for a in opened], run_on__lt=today).update(run_on=today)
    counts["claims_released"] += len(claims)
    counts["resumed"] += len(opened)
    unsent = []
    for attempt in opened:
        if attempt.payment.sent_at is None:
            unsent.append(attempt)
        else:
            if heartbeat is not None:
                heartbeat()
            payment_reconcile(payment=attempt.payment)
    usable = schedule.status == AutoPaySchedule.Status.ACTIVE and schedule.method is not None
    stop = [a for a in unsent if not usable or a.payment.method_id != schedule.method_id]
    if stop:
        _record(schedule, [], stop, hard_decline=False, counts=counts)
    if to_charge := [a for a in unsent if a not in stop]:
        _pay_chunks(schedule, PaymentSource.from_method(schedule.method), to_charge, counts, heartbeat)
    counts["synced"] += autopay_attempts_sync()
    return counts


def _claim(schedule_id: int, today: datetime.date, counts: Counter):
    """Step 1: the day's attempts, committed; (schedule, payment source, attempts to pay) or None."""
    with transaction.atomic():
        schedule = (
            AutoPaySchedule.objects.select_for_update(of=("self",))
            .select_related("company", "account", "plan", "method", "created_by")
            .get(pk=schedule_id)
        )
        if not schedule_live_on(schedule, today):
            return None
        invoices = [inv for inv in schedule_invoices(schedule) if invoice_due_for_run(schedule, inv, today)]
        history = attempt_history([schedule.id], [inv.id for inv in invoices])
        checks = checks_by_invoice(invoices, schedule.method.kind if schedule.method else None)
        attempts: list[AutoPayAttempt] = []
        paying: list[AutoPayAttempt] = []
        for invoice in invoices:
            prior = history.get((schedule.id, invoice.id), [])
            if any(a.run_on == today for a in prior) or attempts_in_progress(prior, today) or attempts_gave_up(prior):
                continue
            remaining = checks[invoice.id].amount  # the balance less payments in flight
            if remaining <= 0:
                continue  # paid meanwhile, or a payment is in flight
            plan = classify(schedule, invoice, remaining, today, checks[invoice.id])
            if plan != "pay" and prior and prior[-1].outcome == plan:
                continue  # the same reason as last time: the users were already told
            attempt_no = max((a.attempt_no for a in prior), default=0) + 1
            attempt = AutoPayAttempt(
                schedule=schedule,
                invoice=invoice,
                attempt_no=attempt_no,
                run_on=today,
                idempotency_key=attempt_key(schedule.id, invoice.id, attempt_no),
                outcome=Outcome.PENDING if plan == "pay" else plan,
                amount=remaining,
            )
            attempts.append(attempt)
            if plan == "pay":
                paying.append(attempt)
        if not attempts:
            return None
        for attempt in attempts:
            attempt.notice_due = attempt.outcome in (Outcome.SKIPPED_OVER_LIMIT, Outcome.SKIPPED_METHOD)
        try:
            with transaction.atomic():
                # The claim: one row per (schedule, invoice, attempt number) and per run day.
                AutoPayAttempt.objects.bulk_create(attempts)
        except IntegrityError:
            counts["claimed_elsewhere"] += len(attempts)  # another run claimed them first: it pays them
            return None
        for attempt in attempts:
            if attempt.outcome != Outcome.PENDING:
                counts[attempt.outcome] += 1
            if attempt.notice_due:
                autopay_notice_schedule(attempt.id)
    source = PaymentSource.from_method(schedule.method) if paying else None
    return schedule, source, paying


def _pay_chunk(schedule, source, chunk: list[AutoPayAttempt], counts: Counter, heartbeat=None) -> bool:
    """Open, charge and record the payments of ``chunk``; False when the run must stop.

    Attempts taken over from a run that died may already have their payment: it is charged if it
    is still processing and unsent (``payment_charge`` sends a payment once, whoever asks).
    """
    opening = [a for a in chunk if a.payment_id is None]
    with transaction.atomic():
        answers = payments_open(
            requests=[PaymentRequest(idempotency_key=a.idempotency_key, invoice_ids=[a.invoice_id]) for a in opening],
            source=source,
            company=schedule.company,
            payer_email=_receipt_address(schedule),
        )
        current = Payment.objects.in_bulk([a.payment_id for a in chunk if a.payment_id is not None])
        to_charge, settled = [], []
        for attempt in chunk:
            if attempt.payment_id is not None:
                attempt.payment = current[attempt.payment_id]
            else:
                answer = answers[attempt.idempotency_key]
                if isinstance(answer, ApplicationError):  # paid or disputed meanwhile, say
                    attempt.outcome, attempt.message = Outcome.SKIPPED_NOT_PAYABLE, str(answer.message)[:300]
                    settled.append(attempt)
                    continue
                attempt.payment = answer.payments[0] if answer.payments else None
            for name, value in attempt_outcome_of(attempt.payment).items():
                setattr(attempt, name, value)
            if attempt.outcome == Outcome.PROCESSING and attempt.payment.sent_at is None:
                to_charge.append(attempt)
            else:
                settled.append(attempt)  # credits covered it, or a known outcome, or sent by another run
        linked = [a for a in opening if a.payment_id is not None]
        if linked:  # one statement: the payment ids all differ
            AutoPayAttempt.objects.bulk_update(linked, ["payment"])
        rows_update(chunk, ["outcome", "decline_code", "message"])
        AuditEvent.objects.bulk_create(_attempt_event(schedule, a) for a in settled)
    for attempt in settled:
        counts[attempt.outcome] += 1
    charged: list[tuple[AutoPayAttempt, ChargeResult]] = []
    unsent: list[AutoPayAttempt] = []
    hard_decline = False
    for attempt in to_charge:
        if hard_decline:
            unsent.append(attempt)
            continue
        result = payment_charge(attempt.payment, source)
        charged.append((attempt, result))
        if heartbeat is not None:
            heartbeat()
        if result.outcome == GatewayOutcome.DECLINED and not decline_is_soft(result.decline_code):
            hard_decline = True  # this method will not pay today: nothing more is sent
    _record(schedule, charged, unsent, hard_decline=hard_decline, counts=counts)
    return not hard_decline


def _record(schedule, charged, unsent, *, hard_decline: bool, counts: Counter) -> None:
    """Settle what the gateway answered (and what was never sent) and record each attempt.

    A payment is failed as never sent only while, under its row lock, it is still unsent: one that
    another run sent meanwhile (a run taking over, or the one taken over) is that run's to settle.
    """
    with transaction.atomic():
        if hard_decline:
            try:
                autopay_pause(actor=None, schedule=schedule, reason="hard_decline")
            except ApplicationError:
                pass  # paused or cancelled meanwhile
        locked = list(
            Payment.objects.select_for_update()
            .filter(pk__in=[a.payment_id for a, _r in charged] + [a.payment_id for a in unsent])
            .order_by("id")
        )
        still_unsent = {p.id for p in locked if p.status == PaymentStatus.PROCESSING and p.sent_at is None}
        unsent = [a for a in unsent if a.payment_id in still_unsent]
        payments = payments_settle(results=[(a.payment_id, result) for a, result in charged])
        payments += payments_settle(results=[(a.payment_id, NOT_SENT) for a in unsent], source="autopay_stopped")
        attempts = [a for a, _result in charged] + unsent
        for index, (attempt, payment) in enumerate(zip(attempts, payments, strict=True)):
            attempt.payment = payment
            for name, value in attempt_outcome_of(payment).items():
                setattr(attempt, name, value)
            counts[attempt.outcome] += 1
            if attempt.outcome in (Outcome.FAILED_SOFT, Outcome.FAILED_HARD) and index < len(charged):
                attempt.notice_due = True
                autopay_notice_schedule(attempt.id)  # nothing to tell about a charge never sent
        rows_update(attempts, ["outcome", "decline_code", "message", "notice_due"])
        AuditEvent.objects.bulk_create(_attempt_event(schedule, a) for a in attempts)


def _attempt_event(schedule: AutoPaySchedule, attempt: AutoPayAttempt) -> AuditEvent:
    return audit_event_build(
        action=f"autopay.{attempt.outcome}",
        company_id=schedule.company_id,
        target=schedule,
        data={
            "invoice": attempt.invoice.number,
            "attempt": attempt.attempt_no,
            "payment": attempt.payment.reference if attempt.payment else None,
            "code": attempt.decline_code,
        },
    )


def _receipt_address(schedule: AutoPaySchedule) -> str:
    if schedule.created_by and schedule.created_by.email:
        return schedule.created_by.email
    recipients = autopay_recipients(schedule)
    return recipients[0] if recipients else ""
