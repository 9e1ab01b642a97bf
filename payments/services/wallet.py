"""The digital wallet (R10) and the card linked to a shipping account (R11).

Card numbers, CVCs and bank account numbers go to the gateway's tokenizer and nowhere else
(``method_tokenize``); only the token and display facts are kept. Locks: the company's payment
methods (``PaymentMethod`` rows), then the AutoPay schedules that use a deleted method.
"""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_variables

from accounts.audit import audit_record
from accounts.models import Company, Membership, Role, ShippingAccount
from core.exceptions import ApplicationError
from core.mail import email_queue, email_render
from core.transitions import transition

from ..gateways import SavedMethod, TokenizeError, get_gateway
from ..models import (
    AUTOPAY_TRANSITIONS,
    CARD_KINDS,
    AutoPaySchedule,
    GatewayCustomer,
    MethodKind,
    PaymentMethod,
    ShippingAccountPaymentOption,
)
from .checks import kind_allowed

TOKENIZE_MESSAGES = {
    "invalid_number": gettext_lazy("The card number is not valid. Check it and try again."),
    "invalid_cvc": gettext_lazy("The security code is not valid."),
    "invalid_account": gettext_lazy("The bank account number is not valid."),
}


class DetailsRefused(ApplicationError):
    """The gateway refused the payment details (a bad number, a closed bank account)."""


def gateway_customer_get_or_create(*, company: Company, gateway_name: str | None = None) -> str:
    gateway_name = gateway_name or settings.PAYMENT_GATEWAY
    found = GatewayCustomer.objects.filter(company=company, gateway=gateway_name).first()
    if found:
        return found.customer_id
    customer_id = get_gateway(gateway_name).customer_create(name=company.name, company_id=company.id)
    try:
        with transaction.atomic():
            GatewayCustomer.objects.create(company=company, gateway=gateway_name, customer_id=customer_id)
    except IntegrityError:
        return GatewayCustomer.objects.get(company=company, gateway=gateway_name).customer_id
    return customer_id


@sensitive_variables("details")
def method_tokenize(*, details: dict, stripe_mode: bool, company: Company | None = None) -> SavedMethod | None:
    """Hand the details to the gateway's tokenizer; only the token and display facts come back.

    ``details`` is a payment details form's ``cleaned_data``: the card number, CVC and bank
    account number are dropped from it as soon as they have been used. Raises ``DetailsRefused``
    when the gateway refuses them. With Stripe, the browser tokenized the card already (Stripe.js):
    its token is attached to the company's gateway customer (None for a one-time payment).
    """
    gateway = get_gateway()
    kind = details["kind"]
    try:
        customer = gateway_customer_get_or_create(company=company) if company is not None else ""
        if stripe_mode:
            return gateway.save_method(token=details["gateway_token"], customer=customer) if customer else None
        if kind in CARD_KINDS:
            return gateway.tokenize_card(
                number=details["card_number"],
                exp_month=details["exp_month"],
                exp_year=details["exp_year"],
                cvc=details["cvc"],
                holder_name=details["holder_name"],
                customer=customer,
            )
        if kind == MethodKind.BANK_DEBIT:
            return gateway.tokenize_bank_account(
                account_number=details["account_number"],
                bank_code=details["bank_code"],
                holder_name=details["holder_name"],
                customer=customer,
            )
        return gateway.tokenize_online_service(
            service=details["service"], login=details["service_login"], customer=customer
        )
    except TokenizeError as exc:
        raise DetailsRefused(
            str(TOKENIZE_MESSAGES.get(exc.code, _("The payment details were refused."))), code=exc.code
        ) from None
    finally:
        for secret in ("card_number", "cvc", "account_number"):
            details.pop(secret, None)


def one_time_label(kind: str, saved: SavedMethod | None) -> str:
    """How a method used once (not saved in the wallet) is shown on the payment: "Visa ····4242"."""
    if saved is None:
        return str(MethodKind(kind).label)
    parts = [saved.brand or str(MethodKind(kind).label)]
    if saved.last4:
        parts.append(f"····{saved.last4}")
    return " ".join(parts)


@sensitive_variables("details")
def payment_method_save(
    *, actor, company: Company, details: dict, stripe_mode: bool, nickname: str = "", make_default: bool = False
) -> PaymentMethod:
    """Add a method to the wallet from the details a person typed: tokenized first, then kept."""
    kind = details["kind"]
    saved = method_tokenize(details=details, stripe_mode=stripe_mode, company=company)
    return payment_method_add(
        actor=actor, company=company, kind=kind, saved=saved, nickname=nickname, make_default=make_default
    )


@transaction.atomic
def payment_method_add(
    *, actor, company: Company, kind: str, saved: SavedMethod, nickname: str = "", make_default: bool = False
) -> PaymentMethod:
    """Keep a tokenised method: token and display facts only (never a card number or CVC)."""
    if not kind_allowed(kind, company.country):
        raise ApplicationError(_("This payment type is not offered in your country."), field="kind")
    methods = PaymentMethod.objects.select_for_update().filter(company=company)
    first = not methods.exists()
    if make_default or first:
        methods.filter(is_default=True).update(is_default=False)
    method = PaymentMethod.objects.create(
        company=company,
        kind=kind,
        nickname=nickname,
        holder_name=saved.holder_name[:120],
        brand=saved.brand[:30],
        last4=saved.last4[:4],
        exp_month=saved.exp_month,
        exp_year=saved.exp_year,
        gateway=settings.PAYMENT_GATEWAY,
        gateway_token=saved.token,
        is_default=make_default or first,
        created_by=actor,
    )
    audit_record(
        action="wallet.method_added",
        actor=actor,
        company=company,
        target=method,
        data={"kind": kind, "brand": method.brand, "last4": method.last4},
    )
    return method


@transaction.atomic
def payment_method_update(
    *, actor, method: PaymentMethod, nickname: str, exp_month: int | None = None, exp_year: int | None = None
) -> PaymentMethod:
    method = PaymentMethod.objects.select_for_update().get(pk=method.pk)
    changes = {}
    if nickname != method.nickname:
        changes["nickname"] = [method.nickname, nickname]
        method.nickname = nickname
    if method.kind in CARD_KINDS and exp_month and exp_year:
        if (exp_month, exp_year) != (method.exp_month, method.exp_year):
            changes["expiry"] = [f"{method.exp_month}/{method.exp_year}", f"{exp_month}/{exp_year}"]
            method.exp_month, method.exp_year = exp_month, exp_year
    method.save()
    if changes:
        audit_record(action="wallet.method_updated", actor=actor, company=method.company, target=method, data=changes)
    return method


@transaction.atomic
def payment_method_set_default(*, actor, method: PaymentMethod) -> PaymentMethod:
    PaymentMethod.objects.select_for_update().filter(company_id=method.company_id).filter(is_default=True).exclude(
        pk=method.pk
    ).update(is_default=False)
    PaymentMethod.objects.filter(pk=method.pk).update(is_default=True)
    method.is_default = True
    audit_record(action="wallet.method_default", actor=actor, company=method.company, target=method)
    return method


def autopay_using(method: PaymentMethod):
    return method.autopay_schedules.exclude(status=AutoPaySchedule.Status.CANCELLED).select_related("account", "plan")


@transaction.atomic
def payment_method_delete(*, actor, method: PaymentMethod) -> list[AutoPaySchedule]:
    """Delete a wallet entry; an AutoPay that used it stops (paused) and the Administrators are told."""
    method = PaymentMethod.objects.select_for_update().get(pk=method.pk)
    company = method.company
    stopped = list(autopay_using(method).select_for_update(of=("self",)))
    label = str(method)
    for schedule in stopped:
        if schedule.status != AutoPaySchedule.Status.PAUSED:
            transition(schedule, AutoPaySchedule.Status.PAUSED, table=AUTOPAY_TRANSITIONS)
        schedule.save(update_fields=["status"])
        audit_record(
            action="autopay.paused",
            actor=actor,
            company=company,
            target=schedule,
            data={"reason": "payment_method_deleted", "method": label},
        )
    was_default = method.is_default
    audit_record(
        action="wallet.method_deleted",
        actor=actor,
        company=company,
        target=method,
        data={"kind": method.kind, "last4": method.last4, "autopay_stopped": [s.id for s in stopped]},
    )
    method.delete()
    if was_default:
        successor = PaymentMethod.objects.filter(company=company).order_by("-created_at", "-id").first()
        if successor:
            PaymentMethod.objects.filter(pk=successor.pk).update(is_default=True)
    if stopped:
        _autopay_stopped_email(company.id, label, [str(s.account or s.plan) for s in stopped])
    return stopped


def _autopay_stopped_email(company_id: int, label: str, billables: list[str]) -> None:
    """Tell the Administrators that AutoPay stopped (outbox, sent after the commit)."""
    admins = list(
        Membership.objects.filter(company_id=company_id, role=Role.ADMINISTRATOR)
        .select_related("user", "company")
        .order_by("user__username")
    )
    recipients = [m.user.email for m in admins if m.user.email]
    if not recipients:
        return
    context = {"company": admins[0].company, "method_label": label, "billables": billables}
    subject, body = email_render("payments/email/autopay_stopped", context)
    email_queue(to=recipients, subject=subject, body=body)


# --- Card linked to a shipping account (R11) ---------------------------------------------------


@transaction.atomic
def payment_option_set(*, actor, account: ShippingAccount, method: PaymentMethod) -> ShippingAccountPaymentOption:
    if method.company_id != account.company_id:
        raise ApplicationError(_("Choose a card of this company's wallet."), field="method")
    if method.kind not in CARD_KINDS:
        raise ApplicationError(_("Shipping charges are paid by card: choose a card."), field="method")
    option, _created = ShippingAccountPaymentOption.objects.select_for_update().get_or_create(account=account)
    previous = option.method_id
    option.method = method
    option.updated_by = actor
    option.save()
    audit_record(
        action="payment_option.updated",
        actor=actor,
        company=account.company,
        target=account,
        data={"from": previous, "to": method.id, "method": str(method)},
    )
    return option
