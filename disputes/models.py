"""Disputes of invoice charges and the billing staff's handling of them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Company
from invoices.models import MONEY, Invoice, InvoiceLine


class DisputeStatus(models.TextChoices):
    SUBMITTED = "submitted", _("Submitted")
    UNDER_REVIEW = "under_review", _("Under review")
    APPROVED = "approved", _("Approved")
    PARTLY_APPROVED = "partly_approved", _("Partly approved")
    REJECTED = "rejected", _("Rejected")
    CLOSED = "closed", _("Closed")


OPEN_DISPUTE_STATUSES = (DisputeStatus.SUBMITTED, DisputeStatus.UNDER_REVIEW)
DECIDED_DISPUTE_STATUSES = (DisputeStatus.APPROVED, DisputeStatus.PARTLY_APPROVED, DisputeStatus.REJECTED)

# The only status changes there are; ``disputes.services.workflow`` enforces them (core.transitions).
# A decision is taken under review (the decision service starts the review if needed), and
# the filer may withdraw an open dispute, which closes it.
DISPUTE_TRANSITIONS: dict[str, frozenset[str]] = {
    DisputeStatus.SUBMITTED: frozenset({DisputeStatus.UNDER_REVIEW, DisputeStatus.CLOSED}),
    DisputeStatus.UNDER_REVIEW: frozenset(
        {DisputeStatus.APPROVED, DisputeStatus.PARTLY_APPROVED, DisputeStatus.REJECTED, DisputeStatus.CLOSED}
    ),
    DisputeStatus.APPROVED: frozenset({DisputeStatus.CLOSED}),
    DisputeStatus.PARTLY_APPROVED: frozenset({DisputeStatus.CLOSED}),
    DisputeStatus.REJECTED: frozenset({DisputeStatus.CLOSED}),
    DisputeStatus.CLOSED: frozenset(),
}


class DisputeReason(models.TextChoices):
    WEIGHT = "weight", _("Incorrect weight or dimensions")
    ADDRESS_CORRECTION = "address_correction", _("Address correction not requested")
    DUPLICATE = "duplicate", _("Duplicate charge")
    LATE_DELIVERY = "late_delivery", _("Late delivery under a guarantee")
    RATE = "rate", _("Incorrect rate or discount")
    NOT_MINE = "not_mine", _("Not my shipment")
    SURCHARGE = "surcharge", _("Surcharge not applicable")
    OTHER = "other", _("Other")


class Dispute(models.Model):
    reference = models.CharField(_("dispute reference"), max_length=20, unique=True)
    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="disputes")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="disputes")
    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="disputes_filed")
    status = models.CharField(
        _("status"), max_length=20, choices=DisputeStatus.choices, default=DisputeStatus.SUBMITTED
    )
    comment = models.TextField(_("comment"), blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="disputes_assigned",
    )
    # The sum of the disputed charges, fixed at filing (the items never change afterwards);
    # kept on the row so the staff queue filters and sorts on it without a join.
    disputed_amount = models.DecimalField(_("disputed amount"), default=0, **MONEY)
    # The credit the decision granted; posted to the invoice as an adjustment line.
    credit_granted = models.DecimalField(_("credit granted"), default=0, **MONEY)
    # The adjustment line that carries the credit on the invoice (empty until approved).
    credit_line = models.ForeignKey(
        InvoiceLine,
        verbose_name=_("credit line"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    # The filer's language at filing: status e-mails are written in it.
    language = models.CharField(_("language"), max_length=10, default="ko")
    decision_reason = models.TextField(_("decision reason"), blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("filed"), auto_now_add=True)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)

    class Meta:
        verbose_name = _("dispute")
        verbose_name_plural = _("disputes")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(credit_granted__gte=0), name="dispute_credit_not_negative"),
            models.CheckConstraint(
                condition=Q(credit_granted__lte=F("disputed_amount")) | Q(disputed_amount=0),
                name="dispute_credit_within_disputed",
            ),
        ]
        permissions = [
            ("decide_large_dispute", _("Can decide disputes above the supervisor threshold")),
        ]
        indexes = [models.Index(fields=["status", "-created_at"], name="dispute_status_created")]

    def __str__(self) -> str:
        return self.reference

    @property
    def currency(self) -> str:
        return self.invoice.currency

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_DISPUTE_STATUSES

    @property
    def is_decided(self) -> bool:
        return self.status in DECIDED_DISPUTE_STATUSES or (
            self.status == DisputeStatus.CLOSED and self.decided_at is not None
        )


class DisputeItem(models.Model):
    """A disputed charge (a line), or the whole invoice when ``line`` is empty."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="items")
    line = models.ForeignKey(InvoiceLine, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    reason = models.CharField(_("reason"), max_length=30, choices=DisputeReason.choices)
    amount = models.DecimalField(_("disputed amount"), **MONEY)

    class Meta:
        verbose_name = _("disputed charge")
        verbose_name_plural = _("disputed charges")
        ordering = ["dispute", "id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="disputeitem_amount_positive")]

    def __str__(self) -> str:
        return f"{self.dispute_id}: {self.get_reason_display()}"


class DisputeMessage(models.Model):
    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    body = models.TextField(_("message"))
    # Staff-only notes; customers never see them.
    internal = models.BooleanField(_("internal note"), default=False)
    created_at = models.DateTimeField(_("sent"), auto_now_add=True)

    class Meta:
        verbose_name = _("dispute message")
        verbose_name_plural = _("dispute messages")
        ordering = ["dispute", "created_at", "id"]

    def __str__(self) -> str:
        return f"{self.dispute_id} {self.created_at:%Y-%m-%d}"


class DisputeAttachment(models.Model):
    """Evidence the filer sent: a PDF, JPEG or PNG in the file storage (never served directly).

    A bulk filing stores each file once and gives every dispute of the batch its own row.
    """

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="attachments")
    # Storage name (a local folder or S3); random, never the uploaded name.
    file = models.CharField(_("file"), max_length=300)
    # The uploaded file name, cleaned, offered back as the download's name.
    name = models.CharField(_("file name"), max_length=150)
    # Decided from the file's first bytes, not from what the browser claimed.
    content_type = models.CharField(_("content type"), max_length=50)
    size = models.PositiveIntegerField(_("size"))
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(_("uploaded"), auto_now_add=True)

    class Meta:
        verbose_name = _("dispute attachment")
        verbose_name_plural = _("dispute attachments")
        ordering = ["dispute", "created_at", "id"]

    def __str__(self) -> str:
        return self.name


class DisputeEvent(models.Model):
    """One status change of a dispute: the timeline customers see, with the staff member who acted."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="events")
    # Empty for the filing itself.
    from_status = models.CharField(_("from"), max_length=20, choices=DisputeStatus.choices, blank=True)
    to_status = models.CharField(_("to"), max_length=20, choices=DisputeStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        verbose_name = _("dispute status change")
        verbose_name_plural = _("dispute status changes")
        ordering = ["dispute", "created_at", "id"]

    def __str__(self) -> str:
        return f"{self.dispute_id}: {self.from_status or '-'} → {self.to_status}"
