"""Wallet payment methods, payments and their allocation to invoices, AutoPay, webhooks.

The flows that use these (gateway, wallet pages, Pay Now, AutoPay runs) are
built by the Payments and AutoPay issues; the shapes and the invariants the
database can hold are fixed here.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import BillingPlan, Company, ShippingAccount
from core.money import CURRENCY_CHOICES
from invoices.models import MONEY, Invoice


class MethodKind(models.TextChoices):
    CREDIT_CARD = "credit_card", _("Credit card")
    DEBIT_CARD = "debit_card", _("Debit card")
    BANK_DEBIT = "bank_debit", _("Bank direct debit")
    ONLINE_SERVICE = "online_service", _("Online payment service")


# The kinds that are cards (a number, a CVC, an expiry date): one place for every module.
CARD_KINDS = (MethodKind.CREDIT_CARD, MethodKind.DEBIT_CARD)


class PaymentMethod(models.Model):
    """A wallet entry. Only the gateway's token and display facts: never a card number or CVC."""

    company = models.ForeignKey(
        Company, verbose_name=_("company"), on_delete=models.CASCADE, related_name="payment_methods"
    )
    kind = models.CharField(_("type"), max_length=20, choices=MethodKind.choices)
    nickname = models.CharField(_("nickname"), max_length=60, blank=True)
    holder_name = models.CharField(_("holder name"), max_length=120, blank=True)
    brand = models.CharField(_("brand"), max_length=30, blank=True)
    last4 = models.CharField(_("last four digits"), max_length=4, blank=True)
    exp_month = models.PositiveSmallIntegerField(_("expiry month"), null=True, blank=True)
    exp_year = models.PositiveSmallIntegerField(_("expiry year"), null=True, blank=True)
    gateway = models.CharField(_("gateway"), max_length=20)
    gateway_token = models.CharField(_("gateway token"), max_length=120)
    is_default = models.BooleanField(_("default"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("payment method")
        verbose_name_plural = _("payment methods")
        ordering = ["-is_default", "nickname", "id"]
        constraints = [
            models.UniqueConstraint(fields=["company"], condition=Q(is_default=True), name="paymentmethod_one_default"),
            models.CheckConstraint(
                condition=Q(exp_month__isnull=True) | Q(exp_month__gte=1, exp_month__lte=12),
                name="paymentmethod_exp_month_range",
            ),
        ]

    def __str__(self) -> str:
        label = self.nickname or self.brand or self.get_kind_display()
        return f"{label} ····{self.last4}" if self.last4 else label


class PaymentStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SCHEDULED = "scheduled", _("Scheduled")
    PROCESSING = "processing", _("Processing")  # sent; the outcome is not known yet
    SUCCEEDED = "succeeded", _("Paid")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


# The only transitions a payment may make; one service performs each.
PAYMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    PaymentStatus.PENDING: frozenset({PaymentStatus.PROCESSING, PaymentStatus.FAILED, PaymentStatus.CANCELLED}),
    PaymentStatus.SCHEDULED: frozenset({PaymentStatus.PENDING, PaymentStatus.CANCELLED}),
    PaymentStatus.PROCESSING: frozenset({PaymentStatus.SUCCEEDED, PaymentStatus.FAILED}),
    PaymentStatus.SUCCEEDED: frozenset(),
    PaymentStatus.FAILED: frozenset(),
    PaymentStatus.CANCELLED: frozenset(),
}


class Payment(models.Model):
    """One charge in one currency, covering one or more invoices."""

    reference = models.CharField(_("payment reference"), max_length=20, unique=True)
    # One per attempt, chosen before anything is sent: a retry or double click finds this row.
    idempotency_key = models.CharField(_("idempotency key"), max_length=100, unique=True)
    company = models.ForeignKey(
        Company,
        verbose_name=_("company"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payments",
        help_text=_("Empty for Pay Now payments made without logging in."),
    )
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES)
    amount = models.DecimalField(_("amount"), **MONEY)
    status = models.CharField(_("status"), max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.PENDING)
    method = models.ForeignKey(
        PaymentMethod, verbose_name=_("payment method"), on_delete=models.SET_NULL, null=True, blank=True
    )
    # A snapshot of what was charged, kept when the wallet entry is deleted.
    method_kind = models.CharField(_("type"), max_length=20, choices=MethodKind.choices)
    method_label = models.CharField(_("method"), max_length=80, blank=True)
    gateway = models.CharField(_("gateway"), max_length=20)
    gateway_reference = models.CharField(_("gateway reference"), max_length=120, blank=True)
    failure_code = models.CharField(_("failure code"), max_length=60, blank=True)
    failure_message = models.CharField(_("failure message"), max_length=300, blank=True)
    scheduled_for = models.DateField(_("scheduled for"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    payer_email = models.EmailField(_("receipt e-mail"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    settled_at = models.DateTimeField(_("settled"), null=True, blank=True)
    # When the charge was sent to the gateway (``payment_charge``); empty: never sent.
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    # When the receipt e-mail of a succeeded payment went out (``payment_receipt_deliver``). Empty
    # on a succeeded payment with a recipient: not sent yet (its message may never have reached the
    # broker), and ``payment_receipts_requeue`` queues it again. Set once: a receipt is sent once.
    receipt_sent_at = models.DateTimeField(_("receipt sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive")]
        indexes = [
            models.Index(fields=["status", "created_at"], name="payment_status_created"),
            # The receipt sweep reads only the few succeeded payments whose receipt is not out yet.
            models.Index(
                fields=["settled_at"],
                name="payment_receipt_due",
                condition=Q(status="succeeded", receipt_sent_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return self.reference


class PaymentAttemptClaim(models.Model):
    """A confirmed pay form being worked on: one row per idempotency key while its request runs.

    ``PayView`` writes it before it tokenises a card, saves it to the wallet or charges, and deletes
    it when it answers. A second request with the same key (a double click, Back and submit again)
    cannot write it (the key is unique) and goes to the attempt's page, which shows the attempt
    in progress until its payments exist, instead of working on it a second time. A row older than
    ``payments.services.attempts.ATTEMPT_CLAIM_TTL`` is from a request that died and no longer counts.
    The charge itself is protected by ``Payment.idempotency_key`` and the invoice row locks, not by
    this row.
    """

    idempotency_key = models.CharField(_("idempotency key"), max_length=100, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("payment attempt in progress")
        verbose_name_plural = _("payment attempts in progress")

    def __str__(self) -> str:
        return self.idempotency_key


class PaymentAllocation(models.Model):
    """The part of a payment applied to one invoice."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="allocations")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="allocations")
    amount = models.DecimalField(_("amount"), **MONEY)

    class Meta:
        verbose_name = _("payment allocation")
        verbose_name_plural = _("payment allocations")
        ordering = ["payment", "invoice"]
        constraints = [
            models.UniqueConstraint(fields=["payment", "invoice"], name="allocation_payment_invoice_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="allocation_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.payment_id} → {self.invoice_id}"


class AutoPaySchedule(models.Model):
    """Recurring payment of an account's or plan's invoices (R6)."""

    class AmountMode(models.TextChoices):
        FULL = "full", _("Total amount due")
        UP_TO_LIMIT = "up_to_limit", _("Total due up to a limit")

    class Timing(models.TextChoices):
        DAYS_BEFORE_DUE = "days_before_due", _("Days before the due date")
        WEEKDAY = "weekday", _("On a weekday")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        PAUSED = "paused", _("Paused")
        CANCELLED = "cancelled", _("Cancelled")

    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="autopay_schedules")
    account = models.ForeignKey(
        ShippingAccount, on_delete=models.PROTECT, null=True, blank=True, related_name="autopay_schedules"
    )
    plan = models.ForeignKey(
        BillingPlan, on_delete=models.PROTECT, null=True, blank=True, related_name="autopay_schedules"
    )
    method = models.ForeignKey(
        PaymentMethod, on_delete=models.SET_NULL, null=True, blank=True, related_name="autopay_schedules"
    )
    amount_mode = models.CharField(_("amount"), max_length=20, choices=AmountMode.choices)
    # Invoices above the limit are skipped and the users told why.
    limit_amount = models.DecimalField(_("limit"), null=True, blank=True, **MONEY)
    timing = models.CharField(_("timing"), max_length=20, choices=Timing.choices)
    days_before_due = models.PositiveSmallIntegerField(_("days before due"), null=True, blank=True)
    weekday = models.PositiveSmallIntegerField(_("weekday"), null=True, blank=True)
    start_date = models.DateField(_("starts"))
    until_date = models.DateField(_("until"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.ACTIVE)
    # The explicit consent a person gave, with when and to which terms.
    consent_at = models.DateTimeField(_("consent given"))
    terms_version = models.CharField(_("terms version"), max_length=20)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("AutoPay schedule")
        verbose_name_plural = _("AutoPay schedules")
        ordering = ["company", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(account__isnull=False, plan__isnull=True) | Q(account__isnull=True, plan__isnull=False)),
                name="autopay_account_xor_plan",
            ),
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(account__isnull=False) & ~Q(status="cancelled"),
                name="autopay_one_live_per_account",
            ),
            models.UniqueConstraint(
                fields=["plan"],
                condition=Q(plan__isnull=False) & ~Q(status="cancelled"),
                name="autopay_one_live_per_plan",
            ),
            models.CheckConstraint(
                condition=~Q(amount_mode="up_to_limit") | Q(limit_amount__gt=0),
                name="autopay_limit_when_limited",
            ),
            models.CheckConstraint(condition=Q(weekday__isnull=True) | Q(weekday__lte=6), name="autopay_weekday_range"),
        ]

    def __str__(self) -> str:
        return f"AutoPay {self.account or self.plan}"


# How a schedule's status may change (core.transitions.transition): a person (or a hard decline, or
# a deleted card) pauses an active schedule, resumes a paused one, and cancels either for good.
AUTOPAY_TRANSITIONS: dict[str, frozenset[str]] = {
    AutoPaySchedule.Status.ACTIVE: frozenset({AutoPaySchedule.Status.PAUSED, AutoPaySchedule.Status.CANCELLED}),
    AutoPaySchedule.Status.PAUSED: frozenset({AutoPaySchedule.Status.ACTIVE, AutoPaySchedule.Status.CANCELLED}),
    AutoPaySchedule.Status.CANCELLED: frozenset(),
}


class WebhookEvent(models.Model):
    """A gateway event, stored once by its id, processed idempotently."""

    event_id = models.CharField(_("event id"), max_length=100, unique=True)
    type = models.CharField(_("type"), max_length=100)
    payload = models.JSONField(_("payload"))
    received_at = models.DateTimeField(_("received"), auto_now_add=True)
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class WebhookAnomaly(models.Model):
    """A signed gateway event that was NOT applied because it does not fit the payment it names.

    A success whose PaymentIntent, amount or currency differs from the payment, a success for a
    payment that failed (or was never sent, or is unknown), a failure naming another intent: the
    money may have moved at the gateway while our books say otherwise. Nothing is applied; billing
    staff are e-mailed, check the gateway (refund, or settle by hand) and mark it resolved.
    """

    class Reason(models.TextChoices):
        UNKNOWN_PAYMENT = "unknown_payment", _("Success for an unknown payment")
        PAYMENT_FAILED = "payment_failed", _("Success for a failed payment")
        PAYMENT_NOT_SENT = "payment_not_sent", _("Success for a payment that was not sent")
        INTENT_MISMATCH = "intent_mismatch", _("Another payment intent")
        AMOUNT_MISMATCH = "amount_mismatch", _("Amount does not match")
        CURRENCY_MISMATCH = "currency_mismatch", _("Currency does not match")

    event = models.ForeignKey(
        WebhookEvent, verbose_name=_("webhook event"), on_delete=models.PROTECT, related_name="anomalies"
    )
    # Empty when the event names no payment we know.
    payment = models.ForeignKey(
        Payment,
        verbose_name=_("payment"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="webhook_anomalies",
    )
    reason = models.CharField(_("reason"), max_length=30, choices=Reason.choices)
    # What the event said against what the payment holds (intent id, amount in minor units, currency, status).
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    created_at = models.DateTimeField(_("recorded"), auto_now_add=True)
    # When the staff were e-mailed; empty: not yet (no recipient, or the mail server was down).
    alerted_at = models.DateTimeField(_("staff alerted"), null=True, blank=True)
    # Set by staff once the gateway and our books agree again; the only field staff may change.
    resolved = models.BooleanField(_("resolved"), default=False)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("resolved by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook anomaly")
        verbose_name_plural = _("webhook anomalies")
        ordering = ["resolved", "-created_at", "-id"]
        constraints = [
            # A replayed or redelivered event records (and alerts) each reason once.
            models.UniqueConstraint(fields=["event", "reason"], name="webhookanomaly_event_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} ({self.event.event_id})"


class SimulatedCharge(models.Model):
    """What the simulated gateway remembers about each charge, by idempotency key.

    The offline backend is a stand-in for a real gateway's own records: ``retrieve`` answers from
    here (so reconciliation works across processes) and a replayed key gets the first answer.
    Never a card number: only the token the simulated tokenizer issued.
    """

    idempotency_key = models.CharField(_("idempotency key"), max_length=100, unique=True)
    reference = models.CharField(_("gateway reference"), max_length=60, unique=True)
    token = models.CharField(_("token"), max_length=120)
    amount_minor = models.BigIntegerField(_("amount in minor units"))
    currency = models.CharField(_("currency"), max_length=3)
    # succeeded / declined: what really happened at the "bank", even when the caller timed out.
    outcome = models.CharField(_("outcome"), max_length=20)
    decline_code = models.CharField(_("decline code"), max_length=60, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("simulated charge")
        verbose_name_plural = _("simulated charges")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.reference


class GatewayCustomer(models.Model):
    """The gateway's customer record for a company's wallet (Stripe Customer)."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="gateway_customers")
    gateway = models.CharField(_("gateway"), max_length=20)
    customer_id = models.CharField(_("gateway customer"), max_length=120)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("gateway customer")
        verbose_name_plural = _("gateway customers")
        constraints = [
            models.UniqueConstraint(fields=["company", "gateway"], name="gatewaycustomer_company_gateway"),
        ]

    def __str__(self) -> str:
        return f"{self.company_id} {self.gateway} {self.customer_id}"


class ShippingAccountPaymentOption(models.Model):
    """The wallet card linked to a shipping account for its shipping charges (R11)."""

    account = models.OneToOneField(
        ShippingAccount,
        verbose_name=_("account"),
        on_delete=models.CASCADE,
        related_name="payment_option",
    )
    # Emptied when the card is deleted from the wallet; the profile then asks for another.
    method = models.ForeignKey(
        PaymentMethod,
        verbose_name=_("card"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="shipping_accounts",
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("shipping account payment option")
        verbose_name_plural = _("shipping account payment options")
        ordering = ["account"]

    def __str__(self) -> str:
        return f"{self.account_id} → {self.method_id}"


class CreditApplication(models.Model):
    """A credit (an invoice paid above its total, e.g. after a dispute) used to pay another invoice.

    The credit moves from ``source_invoice`` (its negative balance rises towards zero) to
    ``target_invoice`` (its balance falls) of the same account or plan and currency, before any
    card is charged. Recorded so the money's path is explicit and auditable.
    """

    source_invoice = models.ForeignKey(
        Invoice, verbose_name=_("credit from"), on_delete=models.PROTECT, related_name="credits_given"
    )
    target_invoice = models.ForeignKey(
        Invoice, verbose_name=_("applied to"), on_delete=models.PROTECT, related_name="credits_received"
    )
    amount = models.DecimalField(_("amount"), **MONEY)
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES)
    # The payment attempt that used the credit; empty when the credit covered everything.
    payment = models.ForeignKey(
        Payment,
        verbose_name=_("payment"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="credit_applications",
    )
    idempotency_key = models.CharField(_("attempt"), max_length=100, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("credit application")
        verbose_name_plural = _("credit applications")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="creditapplication_amount_positive"),
            models.CheckConstraint(
                condition=~Q(source_invoice=models.F("target_invoice")), name="creditapplication_not_self"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source_invoice_id} → {self.target_invoice_id}: {self.amount}"


class AutoPayAttempt(models.Model):
    """What one AutoPay run did with one invoice: paid it, skipped it (and why) or failed.

    Two runs at once never pay an invoice twice: a run first inserts this row, and the database
    lets one row per (schedule, invoice, attempt number) and one per (schedule, invoice, run day)
    exist; the run that loses the insert leaves the invoice alone. The payment itself is opened
    by ``payments_open`` with ``idempotency_key`` (row locks, balance re-check), in the same
    transaction as the claim, and settled by ``payments_settle``.
    """

    class Outcome(models.TextChoices):
        PENDING = "pending", _("In progress")
        PAID = "paid", _("Paid")
        PROCESSING = "processing", _("Outcome unknown: being checked with the gateway")
        SKIPPED_OVER_LIMIT = "skipped_over_limit", _("Skipped: above the limit")
        SKIPPED_DISPUTED = "skipped_disputed", _("Skipped: disputed")
        SKIPPED_METHOD = "skipped_method", _("Skipped: payment method missing or expired")
        SKIPPED_NOT_PAYABLE = "skipped_not_payable", _("Skipped: cannot be paid online")
        FAILED_SOFT = "failed_soft", _("Declined: will be tried again")
        FAILED_HARD = "failed_hard", _("Declined: AutoPay paused")

    schedule = models.ForeignKey(
        AutoPaySchedule, verbose_name=_("AutoPay schedule"), on_delete=models.PROTECT, related_name="attempts"
    )
    invoice = models.ForeignKey(
        Invoice, verbose_name=_("invoice"), on_delete=models.PROTECT, related_name="autopay_attempts"
    )
    # 1 for the first attempt on an invoice; a soft decline is retried on a later run with the next
    # number, so with a new idempotency key (a declined charge is final for its key).
    attempt_no = models.PositiveSmallIntegerField(_("attempt"))
    run_on = models.DateField(_("run day"))
    idempotency_key = models.CharField(_("idempotency key"), max_length=100, unique=True)
    outcome = models.CharField(_("outcome"), max_length=30, choices=Outcome.choices, default=Outcome.PENDING)
    amount = models.DecimalField(_("amount"), null=True, blank=True, **MONEY)
    payment = models.ForeignKey(
        Payment, verbose_name=_("payment"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decline_code = models.CharField(_("decline code"), max_length=60, blank=True)
    message = models.CharField(_("message"), max_length=300, blank=True)
    # The payers are told of this attempt (over the limit, no usable method, a declined charge):
    # set in the same transaction as the outcome, so a notice that could not be queued or sent
    # (broker or mail server down, a worker killed) is found again by its sweep and sent once.
    notice_due = models.BooleanField(_("notice due"), default=False)
    notice_sent_at = models.DateTimeField(_("notice sent"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("AutoPay attempt")
        verbose_name_plural = _("AutoPay attempts")
        ordering = ["-run_on", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["schedule", "invoice", "attempt_no"], name="autopayattempt_one_per_number"),
            models.UniqueConstraint(fields=["schedule", "invoice", "run_on"], name="autopayattempt_one_per_run_day"),
        ]

    def __str__(self) -> str:
        return f"{self.schedule_id}/{self.invoice_id}#{self.attempt_no} {self.outcome}"


class CardExpiryReminder(models.Model):
    """A reminder sent for one expiry date of a card used by AutoPay: sent once, never twice."""

    method = models.ForeignKey(
        PaymentMethod, verbose_name=_("payment method"), on_delete=models.CASCADE, related_name="expiry_reminders"
    )
    exp_month = models.PositiveSmallIntegerField(_("expiry month"))
    exp_year = models.PositiveSmallIntegerField(_("expiry year"))
    recipients = models.JSONField(_("recipients"), default=list, blank=True)
    sent_at = models.DateTimeField(_("sent"), auto_now_add=True)

    class Meta:
        verbose_name = _("card expiry reminder")
        verbose_name_plural = _("card expiry reminders")
        ordering = ["-sent_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["method", "exp_month", "exp_year"], name="expiryreminder_once_per_expiry"),
        ]

    def __str__(self) -> str:
        return f"{self.method_id} {self.exp_month:02d}/{self.exp_year}"
