"""Payment forms: they validate shape only; services decide what may be paid.

Card numbers and CVCs are read once by ``services.wallet.method_tokenize`` and handed to the
gateway's tokenizer; the widgets never render them back (a form shown again with errors asks for
them again), and nothing here logs or stores them.
"""

from __future__ import annotations

import datetime

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from core.forms import MoneyField

from .autopay.rules import TERMS_VERSION, WEEKDAYS
from .models import CARD_KINDS, AutoPaySchedule, MethodKind, PaymentMethod
from .services.checks import online_services_for_country, payment_kinds_for_country

# Read once, handed to the tokenizer, never kept (see services.wallet.method_tokenize).
SECRET_FIELDS = ("card_number", "cvc", "account_number")


class SecretInput(forms.TextInput):
    """A text box whose value is never rendered back into the page (card number, CVC)."""

    def format_value(self, value):
        return None


@sensitive_variables("value")
def _digits(value: str) -> str:
    """The number as typed, less spaces and dashes (it may still hold other characters)."""
    return "".join(ch for ch in value or "" if not ch.isspace() and ch != "-")


@sensitive_variables("value")
def ascii_digits(value: str) -> bool:
    """Only 0-9. ``str.isdigit()`` is also true for "²", full-width "４" and Arabic-Indic "٤",
    which no gateway takes (and ``int("²")`` raises)."""
    return value.isascii() and value.isdigit()


@sensitive_variables("value")
def other_digits(value: str) -> bool:
    """Holds a digit that is not 0-9 (superscript, full-width, Arabic-Indic…)."""
    return any(ch.isdigit() and not ch.isascii() for ch in value)


def validate_expiry(form: forms.Form, month_field: str = "exp_month", year_field: str = "exp_year") -> None:
    month = form.cleaned_data.get(month_field)
    year = form.cleaned_data.get(year_field)
    if month is None or year is None:
        return
    today = timezone.localdate()
    if (year, month) < (today.year, today.month):
        form.add_error(month_field, _("The expiry date is in the past."))


def year_choices():
    this_year = timezone.localdate().year
    return [("", "—")] + [(y, str(y)) for y in range(this_year, this_year + 16)]


def month_choices():
    return [("", "—")] + [(m, f"{m:02d}") for m in range(1, 13)]


class MethodDetailsForm(forms.Form):
    """A new payment method: card, bank account or online payment service, for one country."""

    kind = forms.ChoiceField(label=_("Payment type"), choices=MethodKind.choices, widget=forms.RadioSelect)
    holder_name = forms.CharField(label=_("Name on the card or account"), max_length=120, required=False)
    card_number = forms.CharField(
        label=_("Card number"),
        required=False,
        max_length=23,
        widget=SecretInput(attrs={"autocomplete": "cc-number", "inputmode": "numeric", "class": "mono"}),
    )
    exp_month = forms.TypedChoiceField(label=_("Expiry month"), required=False, coerce=int, empty_value=None)
    exp_year = forms.TypedChoiceField(label=_("Expiry year"), required=False, coerce=int, empty_value=None)
    cvc = forms.CharField(
        label=_("Security code (CVC)"),
        required=False,
        max_length=4,
        widget=SecretInput(attrs={"autocomplete": "cc-csc", "inputmode": "numeric", "size": 4}),
    )
    bank_code = forms.CharField(label=_("Bank"), required=False, max_length=30)
    account_number = forms.CharField(
        label=_("Bank account number"),
        required=False,
        max_length=20,
        widget=SecretInput(attrs={"inputmode": "numeric", "class": "mono"}),
    )
    service = forms.ChoiceField(label=_("Online payment service"), required=False, choices=())
    service_login = forms.CharField(label=_("Service login (e-mail or ID)"), required=False, max_length=120)
    # Stripe: the browser sends the PaymentMethod id made by Stripe's own fields.
    gateway_token = forms.CharField(required=False, widget=forms.HiddenInput, max_length=120)

    def __init__(self, *args, country: str = "KR", **kwargs):
        super().__init__(*args, **kwargs)
        self.country = country
        self.stripe_mode = settings.PAYMENT_GATEWAY == "stripe"
        allowed = payment_kinds_for_country(country)
        self.fields["kind"].choices = [(value, label) for value, label in MethodKind.choices if value in allowed]
        services = online_services_for_country(country)
        self.fields["service"].choices = [("", "—")] + [(s, s) for s in services]
        if not services:
            self.fields["kind"].choices = [c for c in self.fields["kind"].choices if c[0] != MethodKind.ONLINE_SERVICE]
        self.fields["exp_month"].choices = month_choices()
        self.fields["exp_year"].choices = year_choices()
        if self.fields["kind"].choices and not self.is_bound:
            self.initial.setdefault("kind", self.fields["kind"].choices[0][0])

    # Django's field cleaning and everything under it hold the raw card number and CVC: an error
    # report (the e-mail to ADMINS, any SafeExceptionReporterFilter output) shows none of their variables.
    @sensitive_variables()
    def full_clean(self):
        super().full_clean()

    @sensitive_variables("data", "number", "cvc")
    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if not kind:
            return data
        if self.stripe_mode:
            # Stripe.js sends a token; details posted anyway are dropped, never used or kept.
            for secret in SECRET_FIELDS:
                data[secret] = ""
            if not data.get("gateway_token", "").startswith("pm_"):
                self.add_error(None, _("Enter the payment details in the secure fields."))
            return data
        if kind in CARD_KINDS:
            number = _digits(data.get("card_number", ""))
            if not number:
                self.add_error("card_number", _("Enter the card number."))
            elif other_digits(number):
                self.add_error("card_number", _("Enter the card number with the digits 0-9 only."))
            elif not ascii_digits(number) or not 12 <= len(number) <= 19:
                self.add_error("card_number", _("Enter a card number of 12 to 19 digits."))
            data["card_number"] = number
            cvc = (data.get("cvc") or "").strip()
            if other_digits(cvc):
                self.add_error("cvc", _("Enter the security code with the digits 0-9 only."))
            elif not (ascii_digits(cvc) and len(cvc) in (3, 4)):
                self.add_error("cvc", _("Enter the 3- or 4-digit security code."))
            if data.get("exp_month") is None and "exp_month" not in self.errors:
                self.add_error("exp_month", _("Choose the expiry month."))
            if data.get("exp_year") is None and "exp_year" not in self.errors:
                self.add_error("exp_year", _("Choose the expiry year."))
            validate_expiry(self)
            if not data.get("holder_name"):
                self.add_error("holder_name", _("Enter the name on the card."))
        elif kind == MethodKind.BANK_DEBIT:
            number = _digits(data.get("account_number", ""))
            if other_digits(number):
                self.add_error("account_number", _("Enter the bank account number with the digits 0-9 only."))
            elif not ascii_digits(number) or not 6 <= len(number) <= 16:
                self.add_error("account_number", _("Enter a bank account number of 6 to 16 digits."))
            data["account_number"] = number
            if not data.get("bank_code"):
                self.add_error("bank_code", _("Enter the bank."))
            if not data.get("holder_name"):
                self.add_error("holder_name", _("Enter the account holder's name."))
        elif kind == MethodKind.ONLINE_SERVICE:
            if not data.get("service"):
                self.add_error("service", _("Choose the online payment service."))
            if not data.get("service_login"):
                self.add_error("service_login", _("Enter your login for the service."))
        return data


class WalletAddForm(MethodDetailsForm):
    nickname = forms.CharField(label=_("Nickname"), max_length=60, required=False)
    make_default = forms.BooleanField(label=_("Make this the default payment method"), required=False)


class MethodEditForm(forms.Form):
    nickname = forms.CharField(label=_("Nickname"), max_length=60, required=False)
    exp_month = forms.TypedChoiceField(label=_("Expiry month"), required=False, coerce=int, empty_value=None)
    exp_year = forms.TypedChoiceField(label=_("Expiry year"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args, is_card: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.is_card = is_card
        self.fields["exp_month"].choices = month_choices()
        self.fields["exp_year"].choices = year_choices()
        if not is_card:
            del self.fields["exp_month"]
            del self.fields["exp_year"]

    def clean(self):
        data = super().clean()
        if self.is_card:
            if data.get("exp_month") is None and "exp_month" not in self.errors:
                self.add_error("exp_month", _("Choose the expiry month."))
            if data.get("exp_year") is None and "exp_year" not in self.errors:
                self.add_error("exp_year", _("Choose the expiry year."))
            validate_expiry(self)
        return data


NEW_METHOD = "new"


class PayForm(forms.Form):
    """The review page's form: which method, when, and the attempt's idempotency key."""

    # Made by services.attempts.idempotency_key_new() when the review page was rendered.
    idempotency_key = forms.RegexField(regex=r"^[A-Za-z0-9_-]{20,64}$", widget=forms.HiddenInput)
    invoice = forms.CharField(widget=forms.MultipleHiddenInput, required=False)
    method = forms.ChoiceField(label=_("Payment method"), widget=forms.RadioSelect)
    save_to_wallet = forms.BooleanField(label=_("Save the new method in the wallet"), required=False)
    when = forms.ChoiceField(
        label=_("When"),
        choices=[("today", _("Pay today")), ("later", _("Pay on a date"))],
        widget=forms.RadioSelect,
        initial="today",
    )
    pay_on = forms.DateField(label=_("Payment date"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, methods=(), allow_new: bool = True, latest_date: datetime.date | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(str(m.id), str(m)) for m in methods]
        if allow_new:
            choices.append((NEW_METHOD, _("A new payment method")))
        self.fields["method"].choices = choices
        self.latest_date = latest_date
        default = next((m for m in methods if m.is_default), None)
        if default is not None:
            self.initial.setdefault("method", str(default.id))
        elif not methods:
            self.initial.setdefault("method", NEW_METHOD)

    def clean_invoice(self):
        return self.data.getlist("invoice") if hasattr(self.data, "getlist") else []

    def clean(self):
        data = super().clean()
        if data.get("when") == "later":
            pay_on = data.get("pay_on")
            today = timezone.localdate()
            if pay_on is None:
                self.add_error("pay_on", _("Choose the payment date."))
            elif pay_on < today:
                self.add_error("pay_on", _("The payment date cannot be in the past."))
            elif self.latest_date and pay_on > self.latest_date:
                self.add_error(
                    "pay_on",
                    _("Choose a date no later than the due date (%(date)s).") % {"date": self.latest_date.isoformat()},
                )
        return data


class PayNowLookupForm(forms.Form):
    account_number = forms.CharField(
        label=_("Account number"),
        max_length=10,
        help_text=_("6 letters and digits, as printed on the invoice."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "class": "mono"}),
    )
    invoice_number = forms.CharField(
        label=_("Invoice number"), max_length=20, widget=forms.TextInput(attrs={"autocomplete": "off", "class": "mono"})
    )
    # Typed as printed ("₩13,000", "$1,234.50"); the invoice's currency is known only once it is found.
    amount = MoneyField(
        label=_("Amount due"),
        allow_zero=True,
        help_text=_("Exactly as printed on the invoice; the currency sign and separators are optional."),
    )


class PayNowDetailsForm(MethodDetailsForm):
    email = forms.EmailField(label=_("E-mail for the receipt (optional)"), required=False)


class PayNowConfirmForm(forms.Form):
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=80)


class PaymentOptionForm(forms.Form):
    method = forms.ChoiceField(label=_("Card for shipping charges"))

    def __init__(self, *args, cards=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["method"].choices = [(str(c.id), str(c)) for c in cards]


class AutoPayForm(forms.Form):
    """Set up or change AutoPay for one account or plan (R6). Shape only; the service decides."""

    method = forms.ModelChoiceField(
        label=_("Payment method"), queryset=None, empty_label=None, widget=forms.RadioSelect
    )
    amount_mode = forms.ChoiceField(label=_("Amount to pay"), widget=forms.RadioSelect)
    limit_amount = MoneyField(
        label=_("Limit per invoice"),
        required=False,
        help_text=_("An invoice above the limit is not paid automatically; you are told by e-mail."),
    )
    timing = forms.ChoiceField(label=_("When to pay"), widget=forms.RadioSelect)
    days_before_due = forms.IntegerField(
        label=_("Days before the due date"),
        required=False,
        min_value=0,
        max_value=60,
        initial=3,
        help_text=_("0 pays on the due date."),
    )
    weekday = forms.TypedChoiceField(label=_("Weekday"), required=False, coerce=int, empty_value=None)
    until_date = forms.DateField(
        label=_("Until (optional)"),
        required=False,
        help_text=_("Leave empty to keep AutoPay until you cancel it."),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    consent = forms.BooleanField(label=_("I agree to the AutoPay terms"), required=True)

    def __init__(self, *args, methods=None, currency: str = "KRW", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["method"].queryset = methods if methods is not None else PaymentMethod.objects.none()
        self.fields["amount_mode"].choices = AutoPaySchedule.AmountMode.choices
        self.fields["timing"].choices = AutoPaySchedule.Timing.choices
        self.fields["weekday"].choices = [("", "—"), *WEEKDAYS]
        self.fields["limit_amount"].label = _("Limit per invoice (%(currency)s)") % {"currency": currency}
        self.fields["limit_amount"].currency = currency
        self.fields["consent"].label = _(
            "I authorise Billing Centre to charge this payment method for the invoices described above, "
            "under the AutoPay terms (version %(version)s), until I cancel AutoPay."
        ) % {"version": TERMS_VERSION}
        self.fields["consent"].error_messages["required"] = _("Tick the box to agree to the AutoPay terms.")

    def clean(self):
        data = super().clean()
        limit_missing = data.get("limit_amount") is None and "limit_amount" not in self.errors  # not typed at all
        if data.get("amount_mode") == AutoPaySchedule.AmountMode.UP_TO_LIMIT and limit_missing:
            self.add_error("limit_amount", _("Enter the limit: the largest amount AutoPay may pay for one invoice."))
        if data.get("timing") == AutoPaySchedule.Timing.DAYS_BEFORE_DUE and data.get("days_before_due") is None:
            self.add_error(
                "days_before_due", _("Enter how many days before the due date to pay (0 = on the due date).")
            )
        if data.get("timing") == AutoPaySchedule.Timing.WEEKDAY and data.get("weekday") is None:
            self.add_error("weekday", _("Choose the weekday."))
        return data
