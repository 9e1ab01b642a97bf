"""Writes for accounts: one function per use case, transactional, audited."""

from __future__ import annotations

import datetime
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, models, transaction
from django.dispatch import Signal
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core.exceptions import ApplicationError

from .models import (
    TEMPORARY_NUMBER_RE,
    AuditEvent,
    BillingPlan,
    Company,
    CompanyContact,
    EnrolmentAttempt,
    EnrolmentOutcome,
    Invitation,
    InvoiceDelivery,
    Membership,
    Role,
    ShippingAccount,
    User,
    invitation_expiry,
)


def audit_event_build(
    *, action: str, actor=None, company_id=None, target=None, data=None, ip_address=None
) -> AuditEvent:
    """An unsaved audit event; paths that record many changes at once ``bulk_create`` them,
    inside the transaction of the change (as ``audit_record`` does for one)."""
    actor_obj = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEvent(
        action=action,
        actor=actor_obj,
        actor_label=actor_obj.get_username() if actor_obj else "",
        company_id=company_id,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_label=str(target)[:200] if target is not None else "",
        data=data or {},
        ip_address=ip_address,
    )


def audit_record(
    *,
    action: str,
    actor=None,
    company: Company | None = None,
    target: models.Model | None = None,
    data: dict[str, Any] | None = None,
    ip_address: str | None = None,
) -> AuditEvent:
    """Append an audit event; call inside the transaction of the change it records."""
    event = audit_event_build(
        action=action,
        actor=actor,
        company_id=company.pk if company is not None else None,
        target=target,
        data=data,
        ip_address=ip_address,
    )
    event.save()
    return event


# ---------------------------------------------------------------------------
# Enrolment (R25, R26, R4, R14), administration (R17-R18, R27-R30) and the
# staff's transfer of administrator rights (R31).
#
# ``accounts`` never imports ``invoices``, ``payments`` or ``disputes``
# (dependencies point one way): invoices, AutoPay schedules and disputes are
# reached through their reverse relations by name.
# ---------------------------------------------------------------------------


# An invoice issued up to this many Asia/Seoul calendar days ago enrols (day 45
# included, day 46 refused).
ENROLMENT_WINDOW_DAYS = 45
# Lock-out: this many refused attempts within the window, per user or per number typed.
ENROLMENT_MAX_FAILURES = 5
ENROLMENT_LOCK_WINDOW = datetime.timedelta(minutes=15)
# Access requests to another company's administrators: per user, per day.
ACCESS_REQUEST_MAX_PER_DAY = 3
ACCESS_REQUEST_WINDOW = datetime.timedelta(hours=24)

COUNTRY_CURRENCY = {
    "KR": "KRW",
    "US": "USD",
    "JP": "JPY",
    "CN": "CNY",
    "HK": "HKD",
    "SG": "SGD",
    "AU": "AUD",
    "CA": "CAD",
    "GB": "GBP",
    "DE": "EUR",
    "FR": "EUR",
}

# Disputes still waiting for a decision (disputes.models.OPEN_DISPUTE_STATUSES, by value).
OPEN_DISPUTE_STATUS_VALUES = ("submitted", "under_review")
CANCELLED_AUTOPAY_STATUS = "cancelled"


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


def _mail_on_commit(*, template: str, recipients: list[str], context: dict[str, Any]) -> None:
    """Render ``accounts/email/<template>_subject.txt`` / ``_body.txt`` and send after commit."""
    recipients = sorted({r for r in recipients if r})
    if not recipients:
        return
    language = translation.get_language() or settings.LANGUAGE_CODE
    with translation.override(language):
        subject = " ".join(render_to_string(f"accounts/email/{template}_subject.txt", context).split())
        body = render_to_string(f"accounts/email/{template}_body.txt", context)

    def _send() -> None:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients, fail_silently=False)

    transaction.on_commit(_send)


def _admin_emails(company: Company) -> list[str]:
    return list(
        Membership.objects.filter(company=company, role=Role.ADMINISTRATOR, user__is_active=True).values_list(
            "user__email", flat=True
        )
    )


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
    invoice = billable.invoices.filter(number__iexact=invoice_number.strip()).first()
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


def _administered_company(user, company: Company | None) -> Company | None:
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
    join = _administered_company(user, company)
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
        _mail_on_commit(
            template="access_request",
            recipients=_admin_emails(company),
            context={
                "requester": user,
                "billable": billable,
                "company": company,
                "message": message[:500],
            },
        )


# --- Opening a new account (R26, R4) ------------------------------------------------------

NEW_ACCOUNT_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"


def _new_account_number() -> str:
    """Six upper-case letters and digits with at least one letter: never a temporary number."""
    for _attempt in range(50):
        number = "".join(secrets.choice(NEW_ACCOUNT_ALPHABET) for _i in range(6))
        if number.isdigit():
            continue
        if not ShippingAccount.objects.filter(number=number).exists():
            return number
    raise ApplicationError(_("Could not open an account right now. Please try again."))  # pragma: no cover


@transaction.atomic
def account_open(
    *,
    user,
    company_name: str,
    address: str,
    country: str,
    contact_phone: str,
    contact_email: str,
    company: Company | None = None,
    ip_address: str | None = None,
) -> ShippingAccount:
    """Open a new account, enrolled at once and paperless from the start (R26, R4, R14).

    Without ``company`` a new company is created with the user as its Administrator;
    with it (a company the user administers) the account joins that company.
    """
    if country not in COUNTRY_CURRENCY:
        raise ApplicationError(_("Choose a country from the list."), field="country")
    if company is not None:
        company = _administered_company(user, company)
        created = False
    else:
        company = Company.objects.create(name=company_name.strip(), country=country, address=address.strip())
        Membership.objects.create(user=user, company=company, role=Role.ADMINISTRATOR)
        CompanyContact.objects.create(company=company, phone=contact_phone.strip(), email=contact_email)
        created = True
    for _attempt in range(5):
        try:
            with transaction.atomic():
                account = ShippingAccount.objects.create(
                    number=_new_account_number(),
                    name=company_name.strip() or company.name,
                    company=company,
                    country=country,
                    currency=COUNTRY_CURRENCY[country],
                    address=address.strip(),
                    invoice_delivery=InvoiceDelivery.PAPERLESS,
                    paperless_since=timezone.localdate(),
                    billing_contact_phone=settings.BILLING_SUPPORT_PHONE,
                )
            break
        except IntegrityError:  # pragma: no cover - a concurrent request took the number
            continue
    else:  # pragma: no cover
        raise ApplicationError(_("Could not open an account right now. Please try again."))
    if created:
        audit_record(action="company.created", actor=user, company=company, target=company, ip_address=ip_address)
    audit_record(
        action="account.opened",
        actor=user,
        company=company,
        target=account,
        data={"country": country, "contact_phone": contact_phone, "contact_email": contact_email},
        ip_address=ip_address,
    )
    return account


# --- My Accounts / My Plans (R17-R18, R27) ------------------------------------------------


def _billable_kind(billable) -> str:
    return "plan" if isinstance(billable, BillingPlan) else "account"


@transaction.atomic
def billable_xml_set(*, actor, billable, enabled: bool, ip_address: str | None = None):
    """Turn XML invoices on or off for an account or plan (R17-R18); audited."""
    model = type(billable)
    billable = model.objects.select_for_update().get(pk=billable.pk)
    if billable.company_id is None:
        raise ApplicationError(_("This account is not enrolled in your company."))
    if billable.xml_enrolled == enabled:
        return billable
    billable.xml_enrolled = enabled
    billable.save(update_fields=["xml_enrolled"])
    audit_record(
        action=f"{_billable_kind(billable)}.xml_enrolment_changed",
        actor=actor,
        company=billable.company,
        target=billable,
        data={"xml_enrolled": enabled},
        ip_address=ip_address,
    )
    return billable


def billable_removal_blockers(billable) -> list[str]:
    """Why ``billable`` cannot leave its company now (empty when it can)."""
    reasons = []
    if billable.autopay_schedules.exclude(status=CANCELLED_AUTOPAY_STATUS).exists():
        reasons.append(_("AutoPay is set up for it. Cancel AutoPay first."))
    if billable.invoices.filter(disputes__status__in=OPEN_DISPUTE_STATUS_VALUES).exists():
        reasons.append(_("A dispute of one of its invoices is still open."))
    return reasons


# Sent inside the transaction when an account or plan joins or leaves a company (``company_id``).
# Apps that cache figures per company listen (invoices/figures_cache.py, connected in
# ``InvoicesConfig.ready``): an account removed and added again within a cache's lifetime has
# the same scope as before, so only this tells them the figures may have changed meanwhile.
billable_company_changed = Signal()


@transaction.atomic
def billable_remove(*, actor, billable, ip_address: str | None = None) -> None:
    """Remove an account or plan from its company; refused while AutoPay or an open dispute
    depends on it. Users' assignments to it end with it."""
    model = type(billable)
    billable = model.objects.select_for_update().get(pk=billable.pk)
    company = billable.company
    if company is None:
        raise ApplicationError(_("This account is not enrolled in your company."))
    reasons = billable_removal_blockers(billable)
    if reasons:
        raise ApplicationError(" ".join(str(r) for r in reasons), code="removal_blocked")
    billable.memberships.clear()
    billable.invitations.clear()
    billable.company = None
    billable.save(update_fields=["company"])
    billable_company_changed.send(sender=model, company_id=company.id)
    audit_record(
        action=f"{_billable_kind(billable)}.removed",
        actor=actor,
        company=company,
        target=billable,
        ip_address=ip_address,
    )


# --- Users and roles (R28-R30) ------------------------------------------------------------


@dataclass(frozen=True)
class ManagerScope:
    """What the acting user may manage in a company: everything for Administrators,
    only users within their accounts and plans for Managers."""

    role: str
    account_ids: frozenset[int]
    plan_ids: frozenset[int]

    @property
    def is_administrator(self) -> bool:
        return self.role == Role.ADMINISTRATOR

    def covers(self, *, account_ids, plan_ids) -> bool:
        if self.is_administrator:
            return True
        account_ids, plan_ids = set(account_ids), set(plan_ids)
        if not account_ids and not plan_ids:
            return False
        return account_ids <= self.account_ids and plan_ids <= self.plan_ids

    def may_manage(self, membership: Membership, *, actor) -> bool:
        if self.is_administrator:
            return True
        if membership.user_id == actor.id or membership.role == Role.ADMINISTRATOR:
            return False
        return self.covers(
            account_ids=[a.id for a in membership.accounts.all()],
            plan_ids=[p.id for p in membership.plans.all()],
        )


def manager_scope(*, actor, company: Company) -> ManagerScope:
    """The actor's management scope in the company, or ApplicationError if they have none."""
    membership = Membership.objects.filter(user=actor, company=company).prefetch_related("accounts", "plans").first()
    if membership is None or membership.role not in (Role.ADMINISTRATOR, Role.MANAGER):
        raise ApplicationError(_("You may not manage users of this company."), code="forbidden")
    if membership.role == Role.ADMINISTRATOR:
        return ManagerScope(role=membership.role, account_ids=frozenset(), plan_ids=frozenset())
    return ManagerScope(
        role=membership.role,
        account_ids=frozenset(a.id for a in membership.accounts.all() if a.company_id == company.id),
        plan_ids=frozenset(p.id for p in membership.plans.all() if p.company_id == company.id),
    )


def _check_grant(*, scope: ManagerScope, company, role, accounts, plans) -> None:
    if role not in Role.values:
        raise ApplicationError(_("Choose a role."), field="role")
    if role == Role.ADMINISTRATOR and not scope.is_administrator:
        raise ApplicationError(_("Only an Administrator can grant the Administrator role."), field="role")
    if any(a.company_id != company.id for a in accounts) or any(p.company_id != company.id for p in plans):
        raise ApplicationError(_("Choose accounts and plans of this company."), field="accounts")
    if role != Role.ADMINISTRATOR and not accounts and not plans:
        raise ApplicationError(_("Choose at least one account or plan for this role."), field="accounts")
    if not scope.covers(account_ids=[a.id for a in accounts], plan_ids=[p.id for p in plans]):
        raise ApplicationError(_("You can assign only the accounts and plans you manage."), field="accounts")


def _lock_administrators(company: Company) -> list[Membership]:
    """Lock the company's Administrator memberships (always in id order) and return them."""
    return list(Membership.objects.select_for_update().filter(company=company, role=Role.ADMINISTRATOR).order_by("id"))


def _scope_data(role, accounts, plans) -> dict[str, Any]:
    return {
        "role": str(role),
        "accounts": sorted(a.number for a in accounts),
        "plans": sorted(p.number for p in plans),
    }


@transaction.atomic
def membership_add(
    *,
    actor,
    company: Company,
    username: str,
    email: str,
    role: str,
    accounts=(),
    plans=(),
    ip_address: str | None = None,
) -> Membership:
    """Add a registered user to the company (R29). The user ID and e-mail must belong to
    the same user; the message does not say which one was wrong."""
    scope = manager_scope(actor=actor, company=company)
    accounts, plans = list(accounts), list(plans)
    user = User.objects.filter(username__iexact=username.strip(), email__iexact=email.strip(), is_active=True).first()
    if user is None:
        raise ApplicationError(
            _(
                "No registered user has this user ID with this e-mail address. Check both, or "
                "invite the person by e-mail."
            ),
            field="username",
        )
    _check_grant(scope=scope, company=company, role=role, accounts=accounts, plans=plans)
    if Membership.objects.filter(user=user, company=company).exists():
        raise ApplicationError(_("This user is already a member of the company."), field="username")
    membership = Membership.objects.create(user=user, company=company, role=role)
    if role != Role.ADMINISTRATOR:
        membership.accounts.set(accounts)
        membership.plans.set(plans)
    audit_record(
        action="membership.added",
        actor=actor,
        company=company,
        target=user,
        data=_scope_data(role, accounts, plans),
        ip_address=ip_address,
    )
    _mail_on_commit(
        template="membership_added",
        recipients=[user.email],
        context={"user": user, "company": company, "role": Role(role).label, "actor": actor},
    )
    return membership


@transaction.atomic
def membership_update(
    *, actor, membership: Membership, role: str, accounts=(), plans=(), ip_address: str | None = None
) -> Membership:
    """Change a member's role and scope; the last Administrator cannot be demoted (R30)."""
    company = membership.company
    scope = manager_scope(actor=actor, company=company)
    admins = _lock_administrators(company)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if not scope.may_manage(membership, actor=actor):
        raise ApplicationError(_("You may not change this user."), code="forbidden")
    accounts, plans = list(accounts), list(plans)
    _check_grant(scope=scope, company=company, role=role, accounts=accounts, plans=plans)
    if membership.role == Role.ADMINISTRATOR and role != Role.ADMINISTRATOR and len(admins) <= 1:
        raise ApplicationError(
            _("The last Administrator cannot be demoted. Add another Administrator first."),
            field="role",
            code="last_administrator",
        )
    before = _scope_data(membership.role, membership.accounts.all(), membership.plans.all())
    membership.role = role
    membership.save(update_fields=["role"])
    if role == Role.ADMINISTRATOR:
        membership.accounts.clear()
        membership.plans.clear()
    else:
        membership.accounts.set(accounts)
        membership.plans.set(plans)
    audit_record(
        action="membership.updated",
        actor=actor,
        company=company,
        target=membership.user,
        data={"before": before, "after": _scope_data(role, accounts, plans)},
        ip_address=ip_address,
    )
    return membership


@transaction.atomic
def membership_remove(*, actor, membership: Membership, ip_address: str | None = None) -> None:
    """Remove a user from the company; never the last Administrator (R30)."""
    company = membership.company
    scope = manager_scope(actor=actor, company=company)
    admins = _lock_administrators(company)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if not scope.may_manage(membership, actor=actor):
        raise ApplicationError(_("You may not remove this user."), code="forbidden")
    if membership.role == Role.ADMINISTRATOR and len(admins) <= 1:
        raise ApplicationError(
            _("The last Administrator cannot be removed. Add another Administrator first."),
            code="last_administrator",
        )
    user = membership.user
    data = _scope_data(membership.role, membership.accounts.all(), membership.plans.all())
    membership.delete()
    audit_record(
        action="membership.removed", actor=actor, company=company, target=user, data=data, ip_address=ip_address
    )


@transaction.atomic
def invitation_create(
    *, actor, company: Company, email: str, role: str, accounts=(), plans=(), ip_address: str | None = None
) -> Invitation:
    """Invite a person by e-mail; they join on sign-up (or next log-in) once the address is
    verified. The answer is the same whether or not the address is registered."""
    scope = manager_scope(actor=actor, company=company)
    accounts, plans = list(accounts), list(plans)
    _check_grant(scope=scope, company=company, role=role, accounts=accounts, plans=plans)
    email = email.strip()
    if Membership.objects.filter(company=company, user__email__iexact=email).exists():
        raise ApplicationError(_("This person is already a member of the company."), field="email")
    Invitation.objects.filter(company=company, email__iexact=email, accepted_at__isnull=True).delete()
    invitation = Invitation.objects.create(
        company=company, email=email, role=role, invited_by=actor, expires_at=invitation_expiry()
    )
    if role != Role.ADMINISTRATOR:
        invitation.accounts.set(accounts)
        invitation.plans.set(plans)
    audit_record(
        action="invitation.created",
        actor=actor,
        company=company,
        target=invitation,
        data={"email": email, **_scope_data(role, accounts, plans)},
        ip_address=ip_address,
    )
    _mail_on_commit(
        template="invitation",
        recipients=[email],
        context={
            "company": company,
            "role": Role(role).label,
            "actor": actor,
            "email": email,
            "expires": invitation.expires_at,
        },
    )
    return invitation


@transaction.atomic
def invitation_cancel(*, actor, invitation: Invitation, ip_address: str | None = None) -> None:
    """Withdraw a pending invitation; Managers only those within their accounts and plans."""
    company = invitation.company
    scope = manager_scope(actor=actor, company=company)
    invitation = _invitation_lock_open(invitation)
    if not _may_handle_invitation(scope, invitation):
        raise ApplicationError(_("You may not withdraw this invitation."), code="forbidden")
    audit_record(
        action="invitation.cancelled",
        actor=actor,
        company=company,
        target=invitation,
        data={"email": invitation.email, "role": invitation.role},
        ip_address=ip_address,
    )
    invitation.delete()


def _invitation_lock_open(invitation: Invitation) -> Invitation:
    """The invitation locked, if still open (not accepted, not withdrawn); expired ones are open."""
    locked = Invitation.objects.select_for_update().filter(pk=invitation.pk, accepted_at__isnull=True).first()
    if locked is None:
        raise ApplicationError(_("This invitation was already accepted or withdrawn."))
    return locked


def _may_handle_invitation(scope, invitation: Invitation) -> bool:
    """Administrators handle every invitation; Managers those within their accounts and plans."""
    return scope.is_administrator or (
        invitation.role != Role.ADMINISTRATOR
        and scope.covers(
            account_ids=[a.id for a in invitation.accounts.all()], plan_ids=[p.id for p in invitation.plans.all()]
        )
    )


@transaction.atomic
def invitation_resend(*, actor, invitation: Invitation, ip_address: str | None = None) -> Invitation:
    """Send a new invitation (new expiry) in place of an open one, expired or not, with the same
    role and scope; the old one is replaced. Who may withdraw an invitation may send it again."""
    company = invitation.company
    scope = manager_scope(actor=actor, company=company)
    invitation = _invitation_lock_open(invitation)
    if not _may_handle_invitation(scope, invitation):
        raise ApplicationError(_("You may not send this invitation again."), code="forbidden")
    return invitation_create(
        actor=actor,
        company=company,
        email=invitation.email,
        role=invitation.role,
        accounts=invitation.accounts.filter(company=company),
        plans=invitation.plans.filter(company=company),
        ip_address=ip_address,
    )


@transaction.atomic
def invitation_accept_pending(*, user, email: str) -> list[Membership]:
    """Turn the pending invitations for a verified ``email`` of ``user`` into memberships.

    Each invitation is used once (``accepted_at``) and only before ``expires_at``; expired ones
    stay open so their administrators see them as expired (selectors.invitation_list_expired_for).
    """
    created = []
    pending = (
        Invitation.objects.select_for_update()
        .filter(email__iexact=email, accepted_at__isnull=True, expires_at__gt=timezone.now())
        .select_related("company")
        .order_by("id")
    )
    for invitation in pending:
        membership, made = Membership.objects.get_or_create(
            user=user, company=invitation.company, defaults={"role": invitation.role}
        )
        if made and invitation.role != Role.ADMINISTRATOR:
            membership.accounts.set(invitation.accounts.filter(company=invitation.company))
            membership.plans.set(invitation.plans.filter(company=invitation.company))
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        audit_record(
            action="invitation.accepted",
            actor=user,
            company=invitation.company,
            target=user,
            data={"email": invitation.email, "role": invitation.role, "joined": made},
        )
        if made:
            created.append(membership)
    return created


# --- Transfer of administrator rights by billing staff (R31) ------------------------------

PREVIOUS_OUTCOMES = ("manager", "payer", "viewer", "remove")


@transaction.atomic
def administrator_transfer(
    *,
    company: Company,
    previous_username: str,
    previous_email: str,
    new_username: str,
    new_email: str,
    previous_outcome: str,
    actor,
) -> Membership:
    """Billing staff hand a company's administrator rights to another user (R31).

    Both user ID/e-mail pairs must belong to registered users and the previous user
    must administer the company. The new user becomes Administrator (joining the
    company if needed); the previous one keeps the role ``previous_outcome``
    (``manager``, ``payer`` or ``viewer``, over every account and plan of the
    company) or is removed (``remove``). Both are e-mailed; the staff member is
    the audit actor.
    """
    if previous_outcome not in PREVIOUS_OUTCOMES:
        raise ApplicationError(_("Choose what happens to the previous Administrator."), field="previous_outcome")
    previous = User.objects.filter(
        username__iexact=previous_username.strip(), email__iexact=previous_email.strip()
    ).first()
    if previous is None:
        raise ApplicationError(
            _("The previous Administrator's user ID and e-mail do not belong to one registered user."),
            field="previous_username",
        )
    new = User.objects.filter(
        username__iexact=new_username.strip(), email__iexact=new_email.strip(), is_active=True
    ).first()
    if new is None:
        raise ApplicationError(
            _("The new Administrator's user ID and e-mail do not belong to one registered user."),
            field="new_username",
        )
    if new.pk == previous.pk:
        raise ApplicationError(_("The previous and new Administrators must be different users."), field="new_username")
    _lock_administrators(company)
    old_membership = (
        Membership.objects.select_for_update().filter(company=company, user=previous, role=Role.ADMINISTRATOR).first()
    )
    if old_membership is None:
        raise ApplicationError(
            _("The previous user is not an Administrator of this company."), field="previous_username"
        )
    new_membership = Membership.objects.select_for_update().filter(company=company, user=new).first()
    if new_membership is None:
        new_membership = Membership.objects.create(user=new, company=company, role=Role.ADMINISTRATOR)
    else:
        new_membership.role = Role.ADMINISTRATOR
        new_membership.save(update_fields=["role"])
        new_membership.accounts.clear()
        new_membership.plans.clear()
    if previous_outcome == "remove":
        old_membership.delete()
    else:
        old_membership.role = previous_outcome
        old_membership.save(update_fields=["role"])
        old_membership.accounts.set(company.shippingaccounts.all())
        old_membership.plans.set(company.billingplans.all())
    audit_record(
        action="administrator.transferred",
        actor=actor,
        company=company,
        target=new,
        data={
            "previous": previous.get_username(),
            "new": new.get_username(),
            "previous_outcome": previous_outcome,
            "staff": actor.get_username() if actor is not None else "",
        },
    )
    context = {
        "company": company,
        "previous": previous,
        "new": new,
        "previous_outcome": previous_outcome,
        "previous_role": Role(previous_outcome).label if previous_outcome != "remove" else "",
    }
    _mail_on_commit(template="transfer_new", recipients=[new.email], context=context)
    _mail_on_commit(template="transfer_previous", recipients=[previous.email], context=context)
    return new_membership
