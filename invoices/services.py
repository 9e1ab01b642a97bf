"""Writes for invoices: stored PDF versions and bulk export jobs.

Callers pass invoices that a selector already scoped to the user; the export task
scopes again with the job owner's current rights before it writes anything.
"""

from __future__ import annotations

import datetime
import logging
import tempfile
import uuid
from collections.abc import Iterable, Iterator

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q
from django.db.models.functions import Now
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from core.exceptions import ApplicationError
from core.files import storage_errors
from core.mail import email_deliver, email_queue, email_render
from core.queue import enqueue, enqueue_on_commit

from .figures_cache import invoice_figures_changed
from .formats.archive import write_zip
from .formats.common import export_filename, safe_number
from .formats.csv import invoices_csv_bytes
from .formats.pdf import invoice_content_hash, render_invoice_pdf
from .formats.xml import invoice_xml_bytes
from .locks import invoice_lock
from .models import ExportFormat, ExportJob, Invoice, InvoiceDocument

logger = logging.getLogger(__name__)

# A selection larger than this is built by a Celery job rather than during the request.
BULK_SYNC_LIMIT = 50


class ExportRefused(ApplicationError):
    pass


# An export ZIP is built in a temporary file of the worker, in memory up to this size and on disk
# past it (5,000 PDFs are ~175 MB), then saved into the storage in one piece.
EXPORT_SPOOL_BYTES = 8 * 1024 * 1024


# --- Stored PDF versions ---------------------------------------------------------------


def invoice_document_get(
    *, invoice: Invoice, language: str, documents: list[InvoiceDocument] | None = None, verify: bool = True
) -> InvoiceDocument:
    """The stored PDF of the invoice's current version in ``language``, rendered if missing.

    ``invoice`` must come with its lines prefetched (``invoice_list_for_export``). The
    version goes up when the content hash changes (a line added, changed or removed); an
    unchanged invoice is rendered once per language and served from the storage after that.
    ``documents``: every stored version of the invoice when the caller already read them
    (``invoice_documents_get`` reads them for many invoices in one query). ``verify``: check that
    the row's file is in the storage (one HEAD on S3); a bulk ZIP reads the file instead and
    renders again only when it is missing (``invoice_document_read``).
    Raises ``StorageUnavailable`` when the storage cannot be reached.
    """
    content_hash = invoice_content_hash(invoice)
    if documents is None:
        # One query for every stored version of the invoice (a handful of rows), then chosen
        # here: serving a stored PDF costs one small read (issue 8).
        documents = list(InvoiceDocument.objects.filter(invoice=invoice).order_by("-version", "language"))
    current = next((document for document in documents if document.content_hash == content_hash), None)
    if current is not None:
        version = current.version
    else:
        version = max((document.version for document in documents), default=0) + 1
    existing = next(
        (document for document in documents if document.version == version and document.language == language), None
    )
    if existing is not None:
        if not verify:
            return existing
        with storage_errors("invoice PDF check"):
            if default_storage.exists(existing.file):
                return existing

    pdf = render_invoice_pdf(invoice, language=language, version=version)
    # A row names the file only once it is saved (an S3 object appears whole); a name already
    # taken (a concurrent render) gets a suffix and is never overwritten.
    with storage_errors("invoice PDF save"):
        name = default_storage.save(f"invoices/{safe_number(invoice)}/v{version}-{language}.pdf", ContentFile(pdf))
    if existing is not None:  # the row survived but its file went missing: rendered again
        existing.file, existing.size = name, len(pdf)
        existing.save(update_fields=["file", "size"])
        return existing
    try:
        with transaction.atomic():
            return InvoiceDocument.objects.create(
                invoice=invoice,
                version=version,
                language=language,
                content_hash=content_hash,
                file=name,
                size=len(pdf),
            )
    except IntegrityError:  # a concurrent request stored the same version first: ours goes
        _storage_delete_quietly(name)
        return InvoiceDocument.objects.get(invoice=invoice, version=version, language=language)


def _storage_delete_quietly(name: str) -> None:
    try:
        default_storage.delete(name)
    except Exception:  # noqa: BLE001 - an orphan file costs space, not correctness
        logger.warning("could not delete the stored file %s", name, exc_info=True)


# Invoices whose stored versions are read in one query by ``invoice_documents_get``.
DOCUMENT_BATCH = 500


def invoice_documents_get(
    *, invoices: Iterable[Invoice], language: str, verify: bool = True
) -> Iterator[tuple[Invoice, InvoiceDocument]]:
    """``invoice_document_get`` for many invoices (a bulk ZIP): one query per 500 invoices.

    Yields each invoice with its document as soon as it is known, so a ZIP streams.
    """
    batch: list[Invoice] = []

    def flush():
        stored: dict[int, list[InvoiceDocument]] = {invoice.pk: [] for invoice in batch}
        for document in InvoiceDocument.objects.filter(invoice_id__in=list(stored)).order_by("-version", "language"):
            stored[document.invoice_id].append(document)
        for invoice in batch:
            yield (
                invoice,
                invoice_document_get(invoice=invoice, language=language, documents=stored[invoice.pk], verify=verify),
            )
        batch.clear()

    for invoice in invoices:
        batch.append(invoice)
        if len(batch) >= DOCUMENT_BATCH:
            yield from flush()
    yield from flush()


def invoice_document_read(*, invoice: Invoice, document: InvoiceDocument, language: str) -> bytes:
    """The bytes of a stored PDF; rendered and stored again if its file went missing."""
    try:
        with storage_errors("invoice PDF read"), default_storage.open(document.file, "rb") as stored:
            return stored.read()
    except FileNotFoundError:
        document = invoice_document_get(invoice=invoice, language=language)
        with storage_errors("invoice PDF read"), default_storage.open(document.file, "rb") as stored:
            return stored.read()


def invoice_pdf_bytes(*, invoice: Invoice, language: str) -> bytes:
    document = invoice_document_get(invoice=invoice, language=language, verify=False)
    return invoice_document_read(invoice=invoice, document=document, language=language)


# --- Exports -------------------------------------------------------------------------------


def export_check_allowed(*, invoices: Iterable[Invoice], format: str) -> None:
    """XML is offered only for XML-enrolled accounts and plans (R17-R19)."""
    if format == ExportFormat.XML:
        refused = [invoice.number for invoice in invoices if not invoice.billable.xml_enrolled]
        if refused:
            raise ExportRefused(
                _(
                    "XML is available only for accounts and plans enrolled in XML invoices. "
                    "Not enrolled: %(numbers)s. An administrator can enrol them under "
                    "My Accounts or My Plans › Actions › Edit XML enrolment."
                )
                % {"numbers": ", ".join(refused[:10]) + ("…" if len(refused) > 10 else "")},
                field="format",
                code="xml_not_enrolled",
            )


def export_members(
    *, invoices: list[Invoice], format: str, language: str, today: datetime.date | None = None
) -> Iterator[tuple[str, bytes]]:
    """The files of a bulk ZIP: one PDF or XML per invoice, or one CSV of all of them."""
    if format == ExportFormat.CSV:
        with translation.override(language):
            yield "invoices.csv", invoices_csv_bytes(invoices, today=today)
        return
    if format == ExportFormat.PDF:
        # No existence check per PDF (a HEAD each on S3): read, and render again only if missing.
        for invoice, document in invoice_documents_get(invoices=invoices, language=language, verify=False):
            yield (
                export_filename(invoice, "pdf"),
                invoice_document_read(invoice=invoice, document=document, language=language),
            )
        return
    for invoice in invoices:
        yield export_filename(invoice, "xml"), invoice_xml_bytes(invoice, today=today)


def export_zip_name(format: str) -> str:
    return f"invoices-{format}-{timezone.localtime():%Y%m%d-%H%M%S}.zip"


# --- Export jobs: every job reaches READY or FAILED ------------------------------------------
#
# A job is queued after its row commits, by a publish that never raises (a broker outage leaves
# it pending, and the page says it is waiting). A build claims the job with one conditional UPDATE
# (pending, or running with an expired lease), so two workers never build it at once; it renews
# its lease with every file written and finishes only while it still holds it. The sweep (beat,
# every minute) queues again the jobs whose message never reached a worker and those whose worker
# died; after EXPORT_JOB_MAX_ATTEMPTS builds a job fails and its owner is told.

EXPORT_JOB_MAX_ATTEMPTS = 3


class _LeaseLost(Exception):
    """The build no longer holds its job (another worker took it over): it stops writing."""


def _running_without_live_lease() -> Q:
    """Running, but nobody holds it: the lease expired (or the row predates leases)."""
    return Q(status=ExportJob.Status.RUNNING) & (Q(lease_expires_at__lt=Now()) | Q(lease_expires_at__isnull=True))


def _lease_until():
    return Now() + datetime.timedelta(seconds=settings.EXPORT_JOB_LEASE_SECONDS)


def _export_job_publish(job_id) -> bool:
    """Send the job's task to the broker now; never raises. False when the broker did not take it.

    A job whose message did not get through stays pending and is queued again by the sweep.
    """
    from .tasks import export_job_run_task

    return enqueue(export_job_run_task, str(job_id))


@transaction.atomic
def export_job_create(*, owner, invoices: list[Invoice], format: str, language: str, base_url: str) -> ExportJob:
    """Save a bulk export job and queue it once the row is committed (eagerly without Redis).

    With the broker down the job is saved all the same, waiting: the sweep queues it later.
    """
    from .tasks import export_job_run_task

    export_check_allowed(invoices=invoices, format=format)
    job = ExportJob.objects.create(
        owner=owner,
        format=format,
        language=language,
        invoice_ids=[invoice.id for invoice in invoices],
        total=len(invoices),
    )
    job.download_url = base_url.rstrip("/") + reverse("invoices:export_job", args=[job.id])
    job.save(update_fields=["download_url"])
    companies = {invoice.billable.company for invoice in invoices if invoice.billable.company_id}
    audit_record(
        action="invoice.export_requested",
        actor=owner,
        company=next(iter(companies)) if len(companies) == 1 else None,
        target=job,
        data={"format": format, "count": len(invoices)},
    )
    # Published after the commit and never raising: with the broker down the job stays pending.
    enqueue_on_commit(export_job_run_task, str(job.id))
    return job


def export_job_claim(*, job_id) -> tuple[ExportJob, uuid.UUID | None]:
    """Take the job for one build: ``(job, token)`` when the caller builds it, ``(job, None)`` if not.

    One conditional UPDATE, so of two workers at once only one gets it: a pending job, or a
    running one whose lease expired (its worker died or stalled), with attempts left. The build
    starts again from nothing (``done`` back to 0). A job out of attempts whose last build died
    fails here, and its owner is told.
    """
    token = uuid.uuid4()
    claimable = Q(status=ExportJob.Status.PENDING) | _running_without_live_lease()
    claimed = ExportJob.objects.filter(claimable, pk=job_id, attempts__lt=EXPORT_JOB_MAX_ATTEMPTS).update(
        status=ExportJob.Status.RUNNING,
        attempts=F("attempts") + 1,
        lease_token=token,
        lease_expires_at=_lease_until(),
        done=0,
    )
    if not claimed:
        _export_job_give_up(job_id=job_id)
    job = ExportJob.objects.select_related("owner").get(pk=job_id)
    return job, (token if claimed else None)


def _export_job_give_up(*, job_id) -> bool:
    """Fail a job whose last allowed build died (running, lease expired, no attempts left)."""
    language = ExportJob.objects.filter(pk=job_id).values_list("language", flat=True).first() or "ko"
    with translation.override(language):
        error = _("The export could not be finished. Please try again with fewer invoices.")[:300]
    failed = ExportJob.objects.filter(
        _running_without_live_lease(), pk=job_id, attempts__gte=EXPORT_JOB_MAX_ATTEMPTS
    ).update(
        status=ExportJob.Status.FAILED,
        error=error,
        lease_token=None,
        lease_expires_at=None,
        finished_at=Now(),
    )
    if failed:
        logger.error("invoice export %s failed after %d attempts", job_id, EXPORT_JOB_MAX_ATTEMPTS)
        _export_job_send_failed_mail(ExportJob.objects.select_related("owner").get(pk=job_id))
    return bool(failed)


def export_job_run(*, job_id) -> ExportJob | None:
    """Build the job's ZIP into the storage if this worker can claim it; then e-mail the owner.

    A redelivered or duplicate task finds the job finished or held by a live build and returns.
    """
    if not ExportJob.objects.filter(pk=job_id).exists():
        logger.warning("invoice export %s no longer exists (its owner was deleted?): nothing to build", job_id)
        return None
    job, token = export_job_claim(job_id=job_id)
    if token is None:
        return job
    held = ExportJob.objects.filter(pk=job.pk, lease_token=token, status=ExportJob.Status.RUNNING)
    # Messages stored on the job are shown to its owner: in the owner's language.
    with translation.override(job.language):
        built = _export_job_run_claimed(job, held)
    job.refresh_from_db()
    if built:
        _export_job_send_ready_mail(job)
    return job


def _export_job_run_claimed(job: ExportJob, held) -> bool:
    """Build a claimed job; every way out leaves it ready, failed, pending again, or someone else's."""
    built = False
    try:
        built = _export_job_build(job, held)
    except _LeaseLost:
        logger.warning("invoice export %s lost its lease to another build; this one stops", job.pk)
    except ApplicationError as error:
        # Permanent (scope or enrolment changed since the request): failed at once.
        if held.update(
            status=ExportJob.Status.FAILED,
            error=str(error.message)[:300],
            lease_token=None,
            lease_expires_at=None,
            finished_at=Now(),
        ):
            _export_job_send_failed_mail(ExportJob.objects.select_related("owner").get(pk=job.pk))
    except Exception:
        # Unexpected (a bug, the soft time limit, the file storage unreachable): given back as
        # pending for the sweep to queue again, until the attempts run out.
        logger.exception("invoice export %s failed (attempt %d)", job.pk, job.attempts)
        if job.attempts >= EXPORT_JOB_MAX_ATTEMPTS:
            if held.update(
                status=ExportJob.Status.FAILED,
                error=_("The export could not be built. Please try again.")[:300],
                lease_token=None,
                lease_expires_at=None,
                finished_at=Now(),
            ):
                _export_job_send_failed_mail(ExportJob.objects.select_related("owner").get(pk=job.pk))
        else:
            held.update(status=ExportJob.Status.PENDING, done=0, lease_token=None, lease_expires_at=None)
    return built


def _export_job_build(job: ExportJob, held) -> bool:
    """Write the ZIP from scratch into a temporary file of this build, save it into the storage,
    then publish it on the row.

    ``held``: the job's row while this build holds the lease; every write goes through it, so a
    build that lost its lease raises ``_LeaseLost`` at its next file and never publishes its ZIP.
    The saved name never collides (the storage adds a suffix to a name taken), so a stalled build
    cannot replace the file of the build that took over; a build that saved its file and then
    finds the job is no longer its own deletes what it saved.
    """
    from .selectors.scope import invoice_list_for_export

    # Scope again: the owner's rights may have changed since the request.
    invoices = list(invoice_list_for_export(user=job.owner, ids=job.invoice_ids))
    if len(invoices) != len(job.invoice_ids):
        raise ExportRefused(_("Some of the selected invoices are no longer available to you."))
    export_check_allowed(invoices=invoices, format=job.format)
    step = 1 if job.format != ExportFormat.CSV else len(invoices)

    def progress(number: int) -> None:
        # The heartbeat: progress shown on the page, and the lease pushed forward.
        if not held.update(done=min(number * step, job.total), lease_expires_at=_lease_until()):
            raise _LeaseLost

    members = export_members(invoices=invoices, format=job.format, language=job.language)
    with tempfile.SpooledTemporaryFile(max_size=EXPORT_SPOOL_BYTES, dir=settings.FILE_UPLOAD_TEMP_DIR) as part:
        write_zip(part, members, progress=progress)
        part.seek(0)
        with storage_errors("export save"):
            name = default_storage.save(f"exports/{job.owner_id}/{job.id}.zip", File(part))
    published = False
    try:
        with transaction.atomic():
            # Published only by the build still holding the job (its row locked meanwhile).
            if not list(held.select_for_update().values_list("pk", flat=True)):
                raise _LeaseLost
            held.update(
                status=ExportJob.Status.READY,
                file=name,
                done=job.total,
                error="",
                lease_token=None,
                lease_expires_at=None,
                finished_at=Now(),
            )
        published = True
    finally:
        if not published:
            _storage_delete_quietly(name)
    return True


def export_jobs_sweep(*, requeue_after: datetime.timedelta | None = None) -> dict[str, int]:
    """Beat, every minute: queue again the jobs no worker is building.

    A pending job queued more than ``requeue_after`` ago (its message never reached the broker,
    or was lost with it), or a running one whose lease expired (its worker died): sent again, and
    a worker claims it. A job whose last allowed build died fails, and its owner is told.
    """
    if requeue_after is None:
        requeue_after = datetime.timedelta(seconds=settings.EXPORT_JOB_REQUEUE_AFTER_SECONDS)
    expired = _running_without_live_lease()
    failed = sum(
        _export_job_give_up(job_id=pk)
        for pk in ExportJob.objects.filter(expired, attempts__gte=EXPORT_JOB_MAX_ATTEMPTS).values_list("pk", flat=True)
    )
    stale = ExportJob.objects.filter(
        Q(status=ExportJob.Status.PENDING) | expired, queued_at__lte=Now() - requeue_after
    ).order_by("queued_at")
    ids = list(stale.values_list("pk", flat=True)[:500])
    ExportJob.objects.filter(pk__in=ids).update(queued_at=Now())
    requeued = sum(_export_job_publish(pk) for pk in ids)
    if ids:
        logger.info("export sweep: %d of %d jobs queued again", requeued, len(ids))
    return {"requeued": requeued, "unqueued": len(ids) - requeued, "failed": failed}


def _export_job_send_ready_mail(job: ExportJob) -> None:
    _export_job_mail(job, "invoices/email/export_ready")


def _export_job_send_failed_mail(job: ExportJob) -> None:
    _export_job_mail(job, "invoices/email/export_failed")


def _export_job_mail(job: ExportJob, template_prefix: str) -> None:
    """Tell the job's owner, in the job's language, through the outbox (``core.mail``).

    Export jobs finish in a worker, outside any request and after their row is written: the
    message goes to the outbox (durable: the outbox sweep retries it) and this worker hands it
    to the mail server at once. A mail server that is down never fails the job.
    """
    if not job.owner.email:
        return
    subject, body = email_render(template_prefix, {"job": job}, language=job.language)
    email = email_queue(to=job.owner.email, subject=subject, body=body)
    if email is None:
        return
    try:
        email_deliver(email.pk)  # the task queued on commit then finds it sent and skips it
    except Exception:  # noqa: BLE001 - recorded on the outbox row; the sweep sends it later
        logger.warning("export %s: e-mail %s left in the outbox for the sweep", job.pk, email.pk)


def export_job_file_name(job: ExportJob) -> str | None:
    """The storage name of a finished job's ZIP (None while it is not ready, or once expired)."""
    if job.status != ExportJob.Status.READY or not job.file:
        return None
    return job.file


# --- Adjustments (disputes: a credit granted on a decision) -------------------------------


@transaction.atomic
def invoice_adjustment_post(*, invoice: Invoice, amount, description: str, actor, data: dict | None = None):
    """Add an adjustment line to ``invoice`` and move its total by ``amount`` (negative: a credit).

    The invoice row is locked first, so a payment being applied at the same time sees the new
    total. If the invoice is already paid, a credit makes its balance negative (status
    ``credit``): that negative balance is the account's (or plan's) credit balance.
    """
    from decimal import Decimal

    from django.db.models import F

    from core.money import quantize

    from .models import InvoiceLine, LineKind

    locked = invoice_lock(invoice)
    value = quantize(Decimal(amount), locked.currency)
    if value == 0:
        raise ApplicationError(_("An adjustment needs an amount other than zero."), field="amount")
    position = (locked.lines.aggregate(p=Max("position"))["p"] or 0) + 1
    line = InvoiceLine.objects.create(
        invoice=locked,
        position=position,
        kind=LineKind.ADJUSTMENT,
        description=str(description)[:200],
        amount=value,
    )
    Invoice.objects.filter(pk=locked.pk).update(total=F("total") + value)
    invoice_figures_changed(company_ids=[locked.billable.company_id])
    locked.refresh_from_db(fields=["total", "amount_paid", "balance", "status"])
    billable = locked.billable
    audit_record(
        action="invoice.adjustment_posted",
        actor=actor,
        company=billable.company if billable is not None else None,
        target=locked,
        data={"amount": str(value), "currency": locked.currency, "line": line.pk, **(data or {})},
    )
    invoice.total = locked.total
    invoice.refresh_from_db(fields=["balance", "status"])
    return line


# --- What an invoice owes, changed by payments ---------------------------------------------
# Payments never write ``Invoice.amount_paid`` themselves: these services do, on invoice rows the
# caller has locked with ``invoices.locks.invoices_lock`` (after its own rows: invoices last, in id
# order). They are set-based, so a batch of payments costs a fixed number of statements.


def invoice_payments_apply(*, invoices, amounts) -> list:
    """Apply payment amounts to locked invoices, in order, never above what each still owes.

    ``invoices`` maps id to the locked row (its ``amount_paid`` is raised in memory as amounts
    apply); ``amounts`` is an iterable of ``(invoice_id, amount)``. Returns the amount applied for
    each pair, in order (the rest of a pair is the payment's unapplied amount). Paid in full (the
    usual case) is one UPDATE for all; the others spell out their amounts.
    """
    from decimal import Decimal

    from .figures_cache import invoice_figures_changed_for

    applied_amounts = []
    changed: dict[int, Invoice] = {}
    for invoice_id, amount in amounts:
        invoice = invoices[invoice_id]
        applied = min(amount, max(invoice.total - invoice.amount_paid, Decimal(0)))
        if applied > 0:
            invoice.amount_paid += applied  # the row is locked: no one else changes it meanwhile
            changed[invoice.id] = invoice
        applied_amounts.append(applied)
    paid_in_full = [inv.id for inv in changed.values() if inv.amount_paid == inv.total]
    Invoice.objects.filter(id__in=paid_in_full).update(amount_paid=F("total"))
    Invoice.objects.bulk_update([inv for inv in changed.values() if inv.id not in paid_in_full], ["amount_paid"])
    invoice_figures_changed_for(invoice_ids=changed)
    return applied_amounts


def invoice_credits_apply(*, moves) -> None:
    """Move credit between locked invoices: ``moves`` is ``(source_id, target_id, amount)``.

    The source (an invoice in credit) gives back ``amount`` of what it was paid; the target (an
    invoice of the same account or plan and currency) counts it as paid. The caller has checked the
    amounts against both balances under the locks.
    """
    from .figures_cache import invoice_figures_changed_for

    moves = list(moves)
    for source_id, target_id, amount in moves:
        Invoice.objects.filter(pk=source_id).update(amount_paid=F("amount_paid") - amount)
        Invoice.objects.filter(pk=target_id).update(amount_paid=F("amount_paid") + amount)
    # Credits moved amounts between invoices: cached figures of large sets are stale.
    invoice_figures_changed_for(invoice_ids={inv_id for source, target, _a in moves for inv_id in (source, target)})
