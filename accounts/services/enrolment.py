"""Enrolment with an invoice (R25, R27, R14) and the access request to another company (R25).

``accounts`` never imports ``invoices``, ``payments`` or ``disputes`` (dependencies point one way).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.exceptions import ApplicationError

from ..audit import audit_record
from ..models import (
    TEMPORARY_NUMBER_RE,
    AuditEvent,
    BillingPlan,
    Company,
    EnrolmentAttempt,
    EnrolmentOutcome,
    InvoiceDelivery,
    Membership,
    Role,
    ShippingAccount,
)
from ..registry import enrolment_invoices
from .billables import billable_company_changed
from .emails import company_admin_emails, mail_queue

# An invoice issued up to this many Asia/Seoul calendar days ago enrols (day 45
# included, day 46 refused).
ENROLMENT_WINDOW_DAYS = 45
# Lock-out: this many refused attempts within the window, per user or per number typed.
ENROLMENT_MAX_FAILURES = 5
ENROLMENT_LOCK_WINDOW = datetime.timedelta(minutes=15)
# Access requests to another company's administrators: per user, per day.
ACCESS_REQUEST_MAX_PER_DAY = 3
ACCESS_REQUEST_WINDOW = datetime.timedelta(hours=24)


class EnrolmentRefused(ApplicationError):
    """An enrolment refused; ``code`` is an ``EnrolmentOutcome`` value.

    ``contact_phone`` is set for a temporary number whose invoice values matched;
    ``billable`` for an account or plan already enrolled by another company (the
    view offers the access request for it, never naming the company).
    """

    def __init__(self, message, *, code, contact_phone: str = "", billable=None):
        super().__init__(message, code=code)
        self.contact_phone = contact_phone
        self.billable = billable


@dataclass(frozen=True)
class EnrolmentResult:
    company: Company
    billable: ShippingAccount | BillingPlan
    accounts: list[ShippingAccount]
    created_company: bool


# --- Enrolment -----------------------------------------------------------------------------


def enrolment_is_locked(*, user, number: str) -> bool:
    """True while the user, or the number typed, has too many recent refused attempts."""
    since = timezone.now() - ENROLMENT_LOCK_WINDOW
    refused = EnrolmentAttempt.objects.filter(created_at__gte=since).exclude(
        outcome__in=[EnrolmentOutcome.SUCCEEDED, EnrolmentOutcome.LOCKED]
    )
    if refused.filter(user=user).count() >= ENROLMENT_MAX_FAILURES:
        return True
    return refused.filter(number=number).count() >= ENROLMENT_MAX_FAILURES


def _find_billable(number: str) -> ShippingAccount | BillingPlan | None:
    return (
        ShippingAccount.objects.filter(number=number).select_related("company", "plan").first()
        or BillingPlan.objects.filter(number=number).select_related("company").first()
    )


def _matching_invoice(billable, *, invoice_number, invoice_date, amount, control_id):
    """The billable's invoice when every value matches exactly as printed, else None."""
    if billable is None:
        return None
    invoice = enrolment_invoices.find(billable, invoice_number.strip())
    if invoice is None:
        return None
    if invoice.invoice_date != invoice_date:
        return None
    if Decimal(invoice.total) != Decimal(amount):
        return None
    if invoice.control_id.strip().upper() != control_id.strip().upper():
        return None
    return invoice


def _record_attempt(*, user, number, outcome, company=None, billable=None, ip_address=None):
    EnrolmentAttempt.objects.create(user=user, number=number, outcome=outcome, ip_address=ip_address)
    audit_record(
        action="enrolment.succeeded" if outcome == EnrolmentOutcome.SUCCEEDED else "enrolment.refused",
        actor=user,
        company=company,
        target=billable if outcome == EnrolmentOutcome.SUCCEEDED else None,
        data={"number": number, "outcome": str(outcome)},
        ip_address=ip_address,
    )


def _mismatch() -> EnrolmentRefused:
    return EnrolmentRefused(
        _(
            "These values do not match an invoice. Enter the account or plan number, invoice "
            "number, invoice date, amount due and control ID exactly as printed on one invoice."
        ),
        code=EnrolmentOutcome.MISMATCH,
    )


def administered_company(user, company: Company | None) -> Company | None:
    """The company the enrolment joins: the one given (which the user must administer),
    else the user's first administered company, else None (a new company is created)."""
    administered = Company.objects.filter(memberships__user=user, memberships__role=Role.ADMINISTRATOR).order_by("id")
    if company is not None:
        if not administered.filter(id=company.id).exists():
            raise ApplicationError(_("You are not an Administrator of that company."), field="company")
        return company
    return administered.first()


def _decline_paper(billable, today: datetime.date) -> None:
    """R14: enrolling declines paper invoices from that day (an earlier date is kept)."""
    if billable.invoice_delivery != InvoiceDelivery.PAPERLESS or billable.paperless_since is None:
        billable.invoice_delivery = InvoiceDelivery.PAPERLESS
        billable.paperless_since = today


def _check_enrolment(*, user, number, invoice_number, invoice_date, amount, control_id):
    """Run the checks in an order that reveals nothing until every value matches."""
    if TEMPORARY_NUMBER_RE.match(number):
        # Recognisable by its shape alone, so refusing it reveals nothing; the billing
        # contact is shown only once the invoice values match (R1).
        account = ShippingAccount.objects.filter(number=number).first()
        invoice = _matching_invoice(
            account,
            invoice_number=invoice_number,
            invoice_date=invoice_date,
            amount=amount,
            control_id=control_id,
        )
        contact = account.billing_contact_phone if invoice is not None else ""
        if contact:
            message = _(
                "A 10-digit number is a temporary account number: it cannot be enrolled or paid "
                "online. Please call the billing contact printed on the invoice: %(phone)s."
            ) % {"phone": contact}
        else:
            message = _(
                "A 10-digit number is a temporary account number: it cannot be enrolled or paid "
                "online. Please call the billing contact printed on your invoice."
            )
        raise EnrolmentRefused(message, code=EnrolmentOutcome.TEMPORARY, contact_phone=contact)

    billable = _find_billable(number)
    invoice = _matching_invoice(
        billable,
        invoice_number=invoice_number,
        invoice_date=invoice_date,
        amount=amount,
        control_id=control_id,
    )
    if invoice is None:
        raise _mismatch()

    today = timezone.localdate()
    if invoice.invoice_date < today - datetime.timedelta(days=ENROLMENT_WINDOW_DAYS):
        raise EnrolmentRefused(
            _("This invoice is more than 45 days old. Please enrol with an invoice issued in the last 45 days."),
            code=EnrolmentOutcome.TOO_OLD,
        )

    owners = {billable.company_id} if billable.company_id else set()
    if isinstance(billable, BillingPlan):
        owners |= {a.company_id for a in billable.accounts.all() if a.company_id}
    if owners:
        own = set(Membership.objects.filter(user=user, company_id__in=owners).values_list("company_id", flat=True))
        if own == owners:
            raise EnrolmentRefused(
                _("%(number)s is already enrolled in your company: there is nothing to do.")
                % {"number": billable.number},
                code=EnrolmentOutcome.ALREADY_OURS,
            )
        raise EnrolmentRefused(
            _(
                "%(number)s is already enrolled in Billing Centre by another company. You can "
                "ask that company's Administrators for access."
            )
            % {"number": billable.number},
            code=EnrolmentOutcome.ALREADY_ENROLLED,
            billable=billable,
        )
    return billable, invoice


def enrolment_enrol(
    *,
    user,
    number: str,
    invoice_number: str,
    invoice_date: datetime.date,
    amount: Decimal,
    control_id: str,
    company: Company | None = None,
    company_name: str = "",
    ip_address: str | None = None,
) -> EnrolmentResult:
    """Enrol an account or plan with one of its invoices from the last 45 days (R25, R27).

    ``number`` and the other values are normalised by ``EnrolmentForm``. With
    ``company`` (Admin › My Accounts › Add account) the account joins that company,
    which the user must administer; otherwise it joins the company the user
    administers, or a new company named ``company_name`` (default: the account's
    name) with the user as its Administrator. Every attempt is recorded and
    audited; a refusal writes nothing else. Raises ``EnrolmentRefused``.
    """
    join = administered_company(user, company)
    audit_company = company

    if enrolment_is_locked(user=user, number=number):
        with transaction.atomic():
            _record_attempt(
                user=user,
                number=number,
                outcome=EnrolmentOutcome.LOCKED,
                company=audit_company,
                ip_address=ip_address,
            )
        raise EnrolmentRefused(
            _(
                "Too many attempts that did not succeed. For your security, enrolment is locked "
                "for 15 minutes. Please try again later."
            ),
            code=EnrolmentOutcome.LOCKED,
        )

    try:
        with transaction.atomic():
            billable, _invoice = _check_enrolment(
                user=user,
                number=number,
                invoice_number=invoice_number,
                invoice_date=invoice_date,
                amount=amount,
                control_id=control_id,
            )
            # Lock the rows, then check again that nobody enrolled them meanwhile.
            model = type(billable)
            billable = model.objects.select_for_update().get(pk=billable.pk)
            accounts: list[ShippingAccount] = []
            if isinstance(billable, BillingPlan):
                accounts = list(ShippingAccount.objects.select_for_update().filter(plan=billable).order_by("id"))
            if billable.company_id or any(a.company_id for a in accounts):
                raise EnrolmentRefused(
                    _(
                        "%(number)s is already enrolled in Billing Centre by another company. You "
                        "can ask that company's Administrators for access."
                    )
                    % {"number": billable.number},
                    code=EnrolmentOutcome.ALREADY_ENROLLED,
                    billable=billable,
                )

            created = join is None
            if created:
                join = Company.objects.create(
                    name=(company_name or billable.name).strip()[:200],
                    country=billable.country,
                    address=billable.address,
                )
                Membership.objects.create(user=user, company=join, role=Role.ADMINISTRATOR)
            today = timezone.localdate()
            for item in [billable, *accounts]:
                item.company = join
                _decline_paper(item, today)
                item.save(update_fields=["company", "invoice_delivery", "paperless_since"])
            billable_company_changed.send(sender=model, company_id=join.id)
            _record_attempt(
                user=user,
                number=number,
                outcome=EnrolmentOutcome.SUCCEEDED,
                company=join,
                billable=billable,
                ip_address=ip_address,
            )
            if created:
                audit_record(action="company.created", actor=user, company=join, target=join, ip_address=ip_address)
    except EnrolmentRefused as refusal:
        with transaction.atomic():
            _record_attempt(
                user=user,
                number=number,
                outcome=refusal.code,
                company=audit_company,
                ip_address=ip_address,
            )
        raise
    return EnrolmentResult(company=join, billable=billable, accounts=accounts, created_company=created)


def enrolment_access_request(*, user, billable, message: str = "", ip_address: str | None = None) -> None:
    """E-mail the Administrators of the company that enrolled ``billable`` that ``user``
    asks for access; the requester never learns who they are. Limited per user per day."""
    if billable.company_id is None:
        raise ApplicationError(_("This account is not enrolled by another company any more."))
    since = timezone.now() - ACCESS_REQUEST_WINDOW
    recent = AuditEvent.objects.filter(actor=user, action="enrolment.access_requested", created_at__gte=since)
    if (
        recent.count() >= ACCESS_REQUEST_MAX_PER_DAY
        or recent.filter(target_type=billable._meta.label_lower, target_id=str(billable.pk)).exists()
    ):
        raise ApplicationError(
            _("An access request was already sent recently. Please wait for an answer."),
            code="access_request_limited",
        )
    with transaction.atomic():
        company = billable.company
        audit_record(
            action="enrolment.access_requested",
            actor=user,
            company=company,
            target=billable,
            data={"message": message[:500]},
            ip_address=ip_address,
        )
        mail_queue(
            template="access_request",
            recipients=company_admin_emails(company),
            context={
                "requester": user,
                "billable": billable,
                "company": company,
                "message": message[:500],
            },
        )
