"""Opening a new account without an invoice (R26, R4, R14)."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.exceptions import ApplicationError

from ..audit import audit_record
from ..models import Company, CompanyContact, InvoiceDelivery, Membership, Role, ShippingAccount
from .enrolment import administered_company

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
        company = administered_company(user, company)
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
