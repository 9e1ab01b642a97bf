"""Disputes of invoice charges and the billing staff's handling of them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
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
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="disputes_filed"
    )
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
    # The credit the decision granted; posted to the invoice as an adjustment line.
    credit_granted = models.DecimalField(_("credit granted"), default=0, **MONEY)
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
        constraints = [models.CheckConstraint(condition=Q(credit_granted__gte=0), name="dispute_credit_not_negative")]

    def __str__(self) -> str:
        return self.reference


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
