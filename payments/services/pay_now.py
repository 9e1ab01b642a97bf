"""Pay Now (R3, R7, R1): find the invoice from the three values printed on it, without logging in.

Wrong guesses are counted per IP address and per account number in the cache; past the limit the
lookup is refused for ``PAY_NOW_WINDOW`` seconds and the lock-out is audited. A refusal never says
which of the three values was wrong. Paying is ``payment_create`` with no actor and no company.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.audit import audit_record
from core.exceptions import ApplicationError
from core.money import quantize
from invoices.models import Invoice

from .checks import Reason, invoice_checks

PAY_NOW_WINDOW = 15 * 60
PAY_NOW_LIMIT_PER_IP = 10
PAY_NOW_LIMIT_PER_ACCOUNT = 5


class PayNowRefusal(ApplicationError):
    """A refusal with the invoice whose billing contact the page shows (temporary number, paid)."""

    def __init__(self, message, *, code: str, invoice: Invoice | None = None):
        super().__init__(message, code=code)
        self.invoice = invoice


def _rate_keys(ip: str | None, account_number: str) -> list[tuple[str, int]]:
    return [
        (f"paynow:ip:{ip or 'unknown'}", getattr(settings, "PAY_NOW_LIMIT_PER_IP", PAY_NOW_LIMIT_PER_IP)),
        (f"paynow:acct:{account_number}", getattr(settings, "PAY_NOW_LIMIT_PER_ACCOUNT", PAY_NOW_LIMIT_PER_ACCOUNT)),
    ]


def _rate_locked(ip: str | None, account_number: str) -> bool:
    return any((cache.get(key) or 0) >= limit for key, limit in _rate_keys(ip, account_number))


def _rate_fail(ip: str | None, account_number: str) -> None:
    for key, limit in _rate_keys(ip, account_number):
        cache.add(key, 0, PAY_NOW_WINDOW)
        try:
            count = cache.incr(key)
        except ValueError:
            cache.set(key, 1, PAY_NOW_WINDOW)
            count = 1
        if count == limit:
            audit_record(
                action="pay_now.locked_out",
                data={"key": key.split(":")[1], "account_number": account_number, "ip": ip, "window_s": PAY_NOW_WINDOW},
                ip_address=ip,
            )


UNKNOWN_COMBINATION = gettext_lazy(
    "We could not find an invoice with these details. Check the account number, invoice number and "
    "amount due exactly as printed on the invoice."
)


def pay_now_lookup(*, account_number: str, invoice_number: str, amount: Decimal, ip_address: str | None) -> Invoice:
    """The invoice matching all three printed values, or a refusal that does not say which was wrong."""
    account_number = account_number.strip().upper()
    invoice_number = invoice_number.strip().upper()
    if _rate_locked(ip_address, account_number):
        raise PayNowRefusal(
            _("Too many attempts. Wait 15 minutes and try again, or call the billing contact on the invoice."),
            code="locked",
        )
    invoice = (
        Invoice.objects.select_related("account", "account__company")
        .filter(number=invoice_number, account__number=account_number)
        .first()
    )
    if invoice is None or quantize(invoice.total, invoice.currency) != amount:
        _rate_fail(ip_address, account_number)
        raise PayNowRefusal(str(UNKNOWN_COMBINATION), code="unknown")
    check = invoice_checks([invoice])[0]
    if check.reason == Reason.TEMPORARY:
        raise PayNowRefusal(
            _(
                "Account %(number)s is a temporary 10-digit number and cannot be paid online. Call the billing contact printed on the invoice."
            )
            % {"number": account_number},
            code="temporary",
            invoice=invoice,
        )
    if check.reason in (Reason.PAID, Reason.NOTHING_DUE):
        raise PayNowRefusal(
            _("Invoice %(number)s is already paid: nothing is due.") % {"number": invoice.number},
            code="paid",
            invoice=invoice,
        )
    if check.reason == Reason.IN_PROGRESS:
        raise PayNowRefusal(
            _("A payment for invoice %(number)s is already in progress.") % {"number": invoice.number},
            code="in_progress",
            invoice=invoice,
        )
    if check.reason:
        raise PayNowRefusal(
            _("This invoice cannot be paid online. Call the billing contact printed on the invoice."),
            code=check.reason,
            invoice=invoice,
        )
    return invoice
