"""Users, companies, shipping accounts, plans, memberships and the audit trail."""

from __future__ import annotations

import datetime
import re

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.money import CURRENCY_CHOICES

# A permanent account number is 6 letters/digits; 10 digits is a temporary
# number that cannot be enrolled, paid or disputed online (R1).
ACCOUNT_NUMBER_RE = re.compile(r"^(?:[A-Z0-9]{6}|[0-9]{10})$")
TEMPORARY_NUMBER_RE = re.compile(r"^[0-9]{10}$")


class User(AbstractUser):
    """A portal user. ``username`` is the user ID; the e-mail is required and unique."""

    email = models.EmailField(_("e-mail address"))
    name = models.CharField(_("name"), max_length=150, blank=True)

    objects = UserManager()

    REQUIRED_FIELDS = ["email"]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["username"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_unique_ci"),
        ]

    def __str__(self) -> str:
        return self.username

    @property
    def display_name(self) -> str:
        return self.name or self.get_full_name() or self.username


class Company(models.Model):
    """An enrolled Billing Centre customer: owns accounts, plans, users and wallet."""

    name = models.CharField(_("company name"), max_length=200)
    country = models.CharField(_("country"), max_length=2, default="KR")
    address = models.CharField(_("address"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class InvoiceDelivery(models.TextChoices):
    # Paper invoices carry a print fee from a country's effective date (R13);
    # enrolling declines paper at once (R14).
    PAPER = "paper", _("Paper")
    PAPERLESS = "paperless", _("Paperless")


class Billable(models.Model):
    """What accounts and plans share: who is billed, how, and whom to call."""

    name = models.CharField(_("name"), max_length=200)
    company = models.ForeignKey(
        Company,
        verbose_name=_("company"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="%(class)ss",
        help_text=_("Empty until the account or plan is enrolled in Billing Centre."),
    )
    country = models.CharField(_("country"), max_length=2, default="KR")
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES, default="KRW")
    address = models.CharField(_("address"), max_length=300, blank=True)
    invoice_delivery = models.CharField(
        _("invoice delivery"),
        max_length=10,
        choices=InvoiceDelivery.choices,
        default=InvoiceDelivery.PAPER,
    )
    # The day paper was declined; invoices issued from then on carry no print fee.
    paperless_since = models.DateField(_("paperless since"), null=True, blank=True)
    # XML invoices are offered only once enrolled (R17-R19).
    xml_enrolled = models.BooleanField(_("XML invoices"), default=False)
    # Printed on every invoice; where Billing Centre cannot help, users call it (R1, R20, R21).
    billing_contact_phone = models.CharField(_("billing contact phone"), max_length=40)
    billing_contact_email = models.EmailField(_("billing contact e-mail"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        abstract = True

    @property
    def is_paperless(self) -> bool:
        return self.invoice_delivery == InvoiceDelivery.PAPERLESS


class BillingPlan(Billable):
    """A consolidated payment plan: groups accounts and receives plan invoices."""

    number = models.CharField(_("plan number"), max_length=12, unique=True)

    class Meta:
        verbose_name = _("plan")
        verbose_name_plural = _("plans")
        ordering = ["number"]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"


class ShippingAccount(Billable):
    """A customer (shipping) account number: 고객번호."""

    number = models.CharField(_("account number"), max_length=10, unique=True)
    plan = models.ForeignKey(
        BillingPlan,
        verbose_name=_("plan"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="accounts",
    )

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        ordering = ["number"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(number__regex=r"^([A-Z0-9]{6}|[0-9]{10})$"),
                name="account_number_format",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"

    @property
    def is_temporary(self) -> bool:
        return bool(TEMPORARY_NUMBER_RE.match(self.number))


class Role(models.TextChoices):
    ADMINISTRATOR = "administrator", _("Administrator")
    MANAGER = "manager", _("Manager")
    PAYER = "payer", _("View, pay and dispute")
    VIEWER = "viewer", _("View only")


class Membership(models.Model):
    """A user's role in a company and, below Administrator, the accounts and plans it covers."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    # Administrators see every account and plan of the company; these are ignored for them.
    accounts = models.ManyToManyField(
        ShippingAccount, blank=True, related_name="memberships", verbose_name=_("accounts")
    )
    plans = models.ManyToManyField(BillingPlan, blank=True, related_name="memberships", verbose_name=_("plans"))
    # The user asked to be e-mailed when a new invoice of an account or plan they see is issued.
    notify_new_invoices = models.BooleanField(_("e-mail me new invoices"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        ordering = ["company", "user"]
        constraints = [
            models.UniqueConstraint(fields=["user", "company"], name="membership_user_company_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.company} ({self.get_role_display()})"


class AuditEvent(models.Model):
    """An append-only record of a state change that matters (DESIGN.md, Architecture)."""

    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # Kept even if the user is deleted, so the trail still names who acted.
    actor_label = models.CharField(_("actor label"), max_length=150, blank=True)
    company = models.ForeignKey(
        Company,
        verbose_name=_("company"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="audit_events",
    )
    action = models.CharField(_("action"), max_length=64, db_index=True)
    target_type = models.CharField(_("target type"), max_length=64, blank=True)
    target_id = models.CharField(_("target id"), max_length=64, blank=True)
    target_label = models.CharField(_("target"), max_length=200, blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    # The request (or Celery task) that made the change (core.request_context): the same id is on
    # that request's log lines, the proxy's access log and the logs of the tasks it queued.
    request_id = models.CharField(_("request ID"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["company", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.target_label}"


class CompanyContact(models.Model):
    """The customer's own contact for a company opened without an invoice (R26).

    Kept apart from ``Company`` so the existing model keeps its meaning; the
    carrier's billing contact stays on each account and plan.
    """

    company = models.OneToOneField(Company, on_delete=models.CASCADE, related_name="contact", verbose_name=_("company"))
    phone = models.CharField(_("contact phone"), max_length=40)
    email = models.EmailField(_("contact e-mail"))

    class Meta:
        verbose_name = _("company contact")
        verbose_name_plural = _("company contacts")

    def __str__(self) -> str:
        return f"{self.company}: {self.phone}"


class EnrolmentOutcome(models.TextChoices):
    SUCCEEDED = "succeeded", _("Enrolled")
    MISMATCH = "mismatch", _("Values did not match")
    TOO_OLD = "too_old", _("Invoice older than 45 days")
    TEMPORARY = "temporary", _("Temporary account number")
    ALREADY_ENROLLED = "already_enrolled", _("Already enrolled by another company")
    ALREADY_OURS = "already_ours", _("Already enrolled by the user's company")
    LOCKED = "locked", _("Refused while locked out")


class EnrolmentAttempt(models.Model):
    """Every enrolment attempt, kept for the lock-out count and the record.

    The lock-out counts refused attempts (every outcome but ``succeeded`` and
    ``locked``) per user and per number typed, in a sliding window (R25).
    """

    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="enrolment_attempts",
        verbose_name=_("user"),
    )
    # The number as normalised from the input, whether or not it exists, so that
    # guessing at a number that does not exist locks out just the same.
    number = models.CharField(_("number entered"), max_length=40, db_index=True)
    outcome = models.CharField(_("outcome"), max_length=20, choices=EnrolmentOutcome.choices)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    class Meta:
        verbose_name = _("enrolment attempt")
        verbose_name_plural = _("enrolment attempts")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="enrolattempt_user_time")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.number} {self.outcome}"


def invitation_expiry() -> datetime.datetime:
    """When an invitation made now expires: settings.INVITATION_DAYS (env BC_INVITATION_DAYS, 7)."""
    return timezone.now() + datetime.timedelta(days=settings.INVITATION_DAYS)


class Invitation(models.Model):
    """A user invited by e-mail who has no user ID yet; added on sign-up (R28-R29).

    The membership is created only once the invited address is verified, so
    nobody joins a company by typing someone else's e-mail at sign-up. An
    invitation is used once (``accepted_at``) and only until ``expires_at``;
    after that the person is told to ask for a new one.
    """

    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="invitations", verbose_name=_("company")
    )
    email = models.EmailField(_("e-mail address"))
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    accounts = models.ManyToManyField(
        ShippingAccount, blank=True, related_name="invitations", verbose_name=_("accounts")
    )
    plans = models.ManyToManyField(BillingPlan, blank=True, related_name="invitations", verbose_name=_("plans"))
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("invited by"),
    )
    created_at = models.DateTimeField(_("invited"), auto_now_add=True)
    # An invitation mailed long ago must not let whoever controls the address later join the
    # company: it is refused after this moment (rows made before expiry existed got 7 days more).
    expires_at = models.DateTimeField(_("expires"), default=invitation_expiry)
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("accepted by"),
    )

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                "company",
                Lower("email"),
                condition=models.Q(accepted_at__isnull=True),
                name="invitation_one_pending_per_email",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} → {self.company}"

    @property
    def is_expired(self) -> bool:
        return self.accepted_at is None and self.expires_at <= timezone.now()


class JobRun(models.Model):
    """One run of a scheduled job (AutoPay, fees, reminders, import): when, what it did, what failed.

    Kept here, in the lowest app, because jobs of invoices and of payments both record runs.
    Written only by ``accounts.jobs.job_run``; shown read-only in the admin.
    """

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        # Its lease expired while it was running: its worker died (killed, lost, out of memory).
        ABANDONED = "abandoned", _("Abandoned: its worker stopped")

    job = models.CharField(_("job"), max_length=60, db_index=True)
    # beat (Celery beat via a task), command (manage.py), or another caller.
    trigger = models.CharField(_("trigger"), max_length=20, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(_("started"), db_index=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    # Until when the run is known to be alive: renewed while it works (settings.JOB_LEASE_SECONDS).
    # A run still "running" past it is marked abandoned, and a later run takes its work over.
    lease_until = models.DateTimeField(_("lease until"), null=True, blank=True)
    # What the run did, by outcome (e.g. {"paid": 3, "skipped_over_limit": 1}).
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    # One entry per error, readable by billing staff; a failed run also keeps the exception.
    errors = models.JSONField(_("errors"), default=list, blank=True)

    class Meta:
        verbose_name = _("job run")
        verbose_name_plural = _("job runs")
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.job} {self.started_at:%Y-%m-%d %H:%M}"


class JobAlert(models.Model):
    """A daily job that had not succeeded by its deadline: billing staff were alerted, once a day.

    Written only by ``accounts.jobs.jobs_watch`` (every 15 minutes); the unique constraint keeps it
    to one alert, and one e-mail, per job and day. Shown read-only in the admin.
    """

    job = models.CharField(_("job"), max_length=60)
    # The day (Asia/Seoul) the job had not succeeded on.
    day = models.DateField(_("day"))
    # The deadline that passed, as configured (settings.JOB_DEADLINES / JOB_MAX_SILENCE).
    deadline = models.CharField(_("deadline"), max_length=40)
    message = models.TextField(_("message"))
    # The last run of the job when the alert was raised (none: it never ran).
    last_run = models.ForeignKey(
        JobRun, verbose_name=_("last run"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    recipients = models.JSONField(_("recipients"), default=list, blank=True)
    created_at = models.DateTimeField(_("raised"), auto_now_add=True)

    class Meta:
        verbose_name = _("job alert")
        verbose_name_plural = _("job alerts")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["job", "day"], name="jobalert_once_per_job_and_day")]

    def __str__(self) -> str:
        return f"{self.job} {self.day:%Y-%m-%d}"
