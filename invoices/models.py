"""Invoices, their lines and the shipments they bill."""

from __future__ import annotations

import datetime
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import BillingPlan, ShippingAccount
from core.money import CURRENCY_CHOICES

MONEY = {"max_digits": 16, "decimal_places": 2}


class InvoiceStatus(models.TextChoices):
    OPEN = "open", _("Open")
    PAID = "paid", _("Paid")
    CREDIT = "credit", _("Credit")


# Which disputes are open is the disputes app's to say (``disputes.models.OPEN_DISPUTE_STATUSES``):
# invoices learns it only through ``invoices.registry.open_holds``, filled by disputes/invoice_hooks.py.


class InvoiceQuerySet(models.QuerySet):
    def with_disputed(self):
        """Annotate ``disputed``: something open holds the invoice (a dispute submitted or under
        review), as the apps that own such holds registered it in ``invoices.registry.open_holds``."""
        from .registry import open_holds

        return self.annotate(disputed=open_holds.condition())

    def held(self):
        """Only the invoices some open hold (``with_disputed``) applies to."""
        from .registry import open_holds

        return self.filter(open_holds.condition())

    def past_due(self, today: datetime.date):
        return self.filter(status=InvoiceStatus.OPEN, due_date__lt=today)

    def with_display_status(self, today: datetime.date):
        """Annotate ``display_status``: the stored status, or ``past_due`` for open invoices past due."""
        return self.annotate(
            display_status=Case(
                When(status=InvoiceStatus.OPEN, due_date__lt=today, then=Value("past_due")),
                default=F("status"),
                output_field=models.CharField(),
            )
        )


class Invoice(models.Model):
    """An invoice of exactly one account or one plan (a database constraint holds it)."""

    number = models.CharField(_("invoice number"), max_length=20, unique=True)
    # Printed on the invoice; a person proves they hold the invoice with it (R25).
    control_id = models.CharField(_("control ID"), max_length=12)
    account = models.ForeignKey(
        ShippingAccount,
        verbose_name=_("account"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="invoices",
    )
    plan = models.ForeignKey(
        BillingPlan,
        verbose_name=_("plan"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="invoices",
    )
    invoice_date = models.DateField(_("invoice date"))
    due_date = models.DateField(_("due date"))
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES)
    # The sum of the lines, adjustments and credits included (lines are negative for credits).
    total = models.DecimalField(_("total"), default=0, **MONEY)
    # The sum of payments applied to this invoice; only payment services change it.
    amount_paid = models.DecimalField(_("amount paid"), default=0, **MONEY)
    # Derived by the database so it can never drift from total and amount paid.
    balance = models.GeneratedField(
        expression=F("total") - F("amount_paid"),
        output_field=models.DecimalField(**MONEY),
        db_persist=True,
        verbose_name=_("balance due"),
    )
    # Open while something is due, paid at zero, credit below zero. "Past due" is
    # an open invoice after its due date: it depends on today, so it is computed.
    status = models.GeneratedField(
        expression=Case(
            When(Q(total__gt=F("amount_paid")), then=Value(InvoiceStatus.OPEN.value)),
            When(Q(total=F("amount_paid")), then=Value(InvoiceStatus.PAID.value)),
            default=Value(InvoiceStatus.CREDIT.value),
        ),
        output_field=models.CharField(max_length=10, choices=InvoiceStatus.choices),
        db_persist=True,
        verbose_name=_("status"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = InvoiceQuerySet.as_manager()

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-invoice_date", "-number"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(account__isnull=False, plan__isnull=True) | Q(account__isnull=True, plan__isnull=False)),
                name="invoice_account_xor_plan",
            ),
            models.CheckConstraint(condition=Q(due_date__gte=F("invoice_date")), name="invoice_due_after_issue"),
            models.CheckConstraint(condition=Q(amount_paid__gte=0), name="invoice_amount_paid_not_negative"),
        ]
        indexes = [
            models.Index(fields=["account", "-invoice_date"], name="invoice_account_date"),
            models.Index(fields=["plan", "-invoice_date"], name="invoice_plan_date"),
            models.Index(fields=["due_date"], name="invoice_due_date"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def billable(self):
        """The account or plan the invoice bills."""
        return self.account if self.account_id else self.plan

    def display_status_on(self, today: datetime.date) -> str:
        if self.status == InvoiceStatus.OPEN and self.due_date < today:
            return "past_due"
        return self.status


class Shipment(models.Model):
    """A parcel shipped on an account; billed by one or more invoice lines."""

    class Service(models.TextChoices):
        EXPRESS = "express", _("Express")
        EXPRESS_SAVER = "express_saver", _("Express Saver")
        EXPEDITED = "expedited", _("Expedited")
        STANDARD = "standard", _("Standard")

    tracking_number = models.CharField(_("tracking number"), max_length=18, unique=True)
    account = models.ForeignKey(
        ShippingAccount, verbose_name=_("account"), on_delete=models.PROTECT, related_name="shipments"
    )
    ship_date = models.DateField(_("ship date"))
    service = models.CharField(_("service"), max_length=20, choices=Service.choices)
    weight_kg = models.DecimalField(_("weight (kg)"), max_digits=8, decimal_places=2)
    origin = models.CharField(_("origin"), max_length=120)
    destination = models.CharField(_("destination"), max_length=120)
    reference = models.CharField(_("reference"), max_length=60, blank=True)

    class Meta:
        verbose_name = _("shipment")
        verbose_name_plural = _("shipments")
        ordering = ["-ship_date", "tracking_number"]
        constraints = [
            models.CheckConstraint(
                condition=Q(tracking_number__regex=r"^1Z[0-9A-Z]{16}$"), name="shipment_tracking_format"
            ),
            models.CheckConstraint(condition=Q(weight_kg__gt=0), name="shipment_weight_positive"),
        ]
        indexes = [models.Index(fields=["account", "-ship_date"], name="shipment_account_date")]

    def __str__(self) -> str:
        return self.tracking_number


class LineKind(models.TextChoices):
    SHIPMENT = "shipment", _("Shipment charge")
    SURCHARGE = "surcharge", _("Surcharge")
    TAX = "tax", _("Tax")
    LATE_FEE = "late_fee", _("Late fee")
    PRINT_FEE = "print_fee", _("Invoice print fee")
    ADJUSTMENT = "adjustment", _("Adjustment")


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, verbose_name=_("invoice"), on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(_("position"), default=0)
    kind = models.CharField(_("kind"), max_length=20, choices=LineKind.choices)
    description = models.CharField(_("description"), max_length=200)
    # Negative for credits and adjustments in the customer's favour.
    amount = models.DecimalField(_("amount"), **MONEY)
    shipment = models.ForeignKey(
        Shipment,
        verbose_name=_("shipment"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="lines",
    )

    class Meta:
        verbose_name = _("invoice line")
        verbose_name_plural = _("invoice lines")
        ordering = ["invoice", "position", "id"]
        constraints = [
            # A print fee and a late fee are each charged at most once per invoice (R13, R23).
            models.UniqueConstraint(
                fields=["invoice"], condition=Q(kind="print_fee"), name="invoiceline_one_print_fee"
            ),
            models.UniqueConstraint(fields=["invoice"], condition=Q(kind="late_fee"), name="invoiceline_one_late_fee"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id}:{self.position} {self.description}"


class InvoiceDocument(models.Model):
    """A rendered PDF of one version of an invoice, stored once and served from then on.

    The version number goes up when what the PDF shows (header facts or lines)
    changes; ``content_hash`` is the fingerprint of that content, so a request
    finds the stored file of the current version without rendering again.
    """

    invoice = models.ForeignKey(Invoice, verbose_name=_("invoice"), on_delete=models.CASCADE, related_name="documents")
    version = models.PositiveIntegerField(_("version"))
    # The PDF is rendered in the reader's language; each language is stored apart.
    language = models.CharField(_("language"), max_length=10)
    content_hash = models.CharField(_("content hash"), max_length=64)
    # Storage name (django's default storage: a local folder or S3); private, served only through a
    # scoped view.
    file = models.CharField(_("file"), max_length=300)
    size = models.PositiveIntegerField(_("size"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("invoice document")
        verbose_name_plural = _("invoice documents")
        ordering = ["invoice", "-version", "language"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "version", "language"], name="invoicedocument_version_language"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id} v{self.version} ({self.language})"


class ExportFormat(models.TextChoices):
    PDF = "pdf", "PDF"
    CSV = "csv", "CSV"
    XML = "xml", "XML"


class ExportJob(models.Model):
    """A bulk download too large to build during the request: a Celery task writes the ZIP."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        RUNNING = "running", _("In progress")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")
        # Its ZIP was deleted BC_EXPORT_RETENTION_DAYS after it was built (invoices.retention).
        EXPIRED = "expired", _("Expired")

    # Unguessable, because it appears in links and e-mails; only the owner may use them anyway.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.CASCADE,
        related_name="invoice_export_jobs",
    )
    format = models.CharField(_("format"), max_length=3, choices=ExportFormat.choices)
    # PDFs are rendered in the language of the person who asked.
    language = models.CharField(_("language"), max_length=10, default="ko")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    # The selection as computed (and scoped) when the job was requested; the task checks scope again.
    invoice_ids = models.JSONField(_("invoices"), default=list)
    total = models.PositiveIntegerField(_("invoices to export"), default=0)
    done = models.PositiveIntegerField(_("invoices exported"), default=0)
    # Storage name of the ZIP (django's default storage: a local folder or S3); empty once expired.
    file = models.CharField(_("file"), max_length=300, blank=True)
    # The absolute link put into the "ready" e-mail (the task has no request to build it from).
    download_url = models.CharField(_("download link"), max_length=500, blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    # When the job's task was last sent to the broker. A job still pending (or running with an
    # expired lease) long after this is sent again by the sweep (``export_jobs_sweep``): the
    # message never reached the broker (Redis down at the request) or was lost with it.
    queued_at = models.DateTimeField(_("queued"), default=timezone.now)
    # Builds started (claims). Bounded by services.EXPORT_JOB_MAX_ATTEMPTS, then the job fails.
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # The build in progress holds the job until this time and pushes it forward with every file
    # written; past it (the worker died or stalled), another worker may claim the job and rebuild.
    lease_expires_at = models.DateTimeField(_("lease expires"), null=True, blank=True)
    # Names the build holding the lease: a build that lost its lease can no longer write the row.
    lease_token = models.UUIDField(_("lease token"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("invoice export")
        verbose_name_plural = _("invoice exports")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(done__lte=F("total")), name="exportjob_done_le_total"),
        ]
        indexes = [
            # The sweep's scan: the few jobs not finished yet.
            models.Index(
                fields=["queued_at"],
                name="exportjob_unfinished_queued",
                condition=Q(status__in=["pending", "running"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_format_display()} × {self.total} ({self.status})"

    @property
    def percent(self) -> int:
        if self.total == 0:
            return 100 if self.status == self.Status.READY else 0
        return int(self.done * 100 / self.total)
