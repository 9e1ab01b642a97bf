"""Forms for enrolment and administration: they validate shape only.

Enrolment tolerance (R25): a person types the values printed on one invoice.
We forgive only what does not change the value, and nothing looser:

* account or plan number: spaces at either end are trimmed, spaces and hyphens
  inside are removed (numbers are printed in groups, "12 AB 34"), and letters are
  upper-cased (numbers are upper-case only, so case carries no meaning);
* invoice number: trimmed, compared without regard to letter case; inner
  characters must match, because a hyphen may be part of an invoice number;
* invoice date: a date field (the browser's date picker, or YYYY-MM-DD);
* amount due: trimmed; an optional currency sign (₩, ￦, $, ¥, €, £) and
  thousands separators in the right places ("1,234,000", "₩1,234,000" and
  "1234000" are one amount); at most two decimals. It must equal the amount due
  exactly: "1,234,001" is not "1,234,000", and KRW has no minor unit;
* control ID: trimmed, compared without regard to letter case.

What a refusal says (``services.enrolment_enrol``): until every value matches one
invoice of that account or plan, one message that names no value, the same for
a number that does not exist; only then "older than 45 days", "already
enrolled" (never by whom) or "nothing to do". A 10-digit number is temporary
by its shape alone, so it is refused on shape; the billing contact printed on
the invoice is shown only when the values match. Five refused attempts within
15 minutes, per user or per number typed, lock enrolment for that user or
number until the window has passed.
"""

from __future__ import annotations

import re

from django import forms
from django.utils.translation import gettext_lazy as _

from core.forms import MoneyField

from .models import BillingPlan, Company, Membership, Role, ShippingAccount

NUMBER_SHAPE_RE = re.compile(r"^[A-Z0-9]{4,12}$")

COUNTRY_CHOICES = [
    ("KR", _("Korea")),
    ("US", _("United States")),
    ("JP", _("Japan")),
    ("CN", _("China")),
    ("HK", _("Hong Kong")),
    ("SG", _("Singapore")),
    ("AU", _("Australia")),
    ("CA", _("Canada")),
    ("GB", _("United Kingdom")),
    ("DE", _("Germany")),
    ("FR", _("France")),
]


def normalize_number(value: str) -> str:
    """Trim, drop inner spaces and hyphens, upper-case: " 12ab-34 " → "12AB34"."""
    return re.sub(r"[\s\-]+", "", value or "").upper()


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


def _administered(user):
    return Company.objects.filter(memberships__user=user, memberships__role=Role.ADMINISTRATOR).order_by("id")


class EnrolmentForm(forms.Form):
    """Enrol with an invoice (R25), or Add account from My Accounts (R27, ``company`` fixed)."""

    number = forms.CharField(
        label=_("Account or plan number"),
        max_length=40,
        help_text=_("As printed on the invoice. Spaces, hyphens and letter case do not matter."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )
    invoice_number = forms.CharField(
        label=_("Invoice number"),
        max_length=40,
        help_text=_("Exactly as printed; letter case does not matter."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    invoice_date = forms.DateField(
        label=_("Invoice date"),
        input_formats=["%Y-%m-%d"],
        widget=DateInput(),
        help_text=_("YYYY-MM-DD. The invoice must be from the last 45 days."),
    )
    # As printed: a credit invoice's amount due is negative, a settled one's zero.
    amount = MoneyField(
        label=_("Amount due"),
        allow_zero=True,
        allow_negative=True,
        help_text=_(
            "Exactly as printed, e.g. ₩1,234,000 or 1234000. The currency sign and thousands separators are optional."
        ),
        error_messages={"invalid": _("Enter the amount due as printed, for example ₩1,234,000 or 1234000.")},
    )
    control_id = forms.CharField(
        label=_("Control ID"),
        max_length=40,
        help_text=_("Printed on the invoice; letter case does not matter."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    company_name = forms.CharField(
        label=_("Company name"),
        max_length=200,
        required=False,
        help_text=_("Optional. Leave empty to use the name on the account."),
    )
    company = forms.ModelChoiceField(
        label=_("Add to company"), queryset=Company.objects.none(), required=False, empty_label=None
    )

    def __init__(self, *args, user, fixed_company: Company | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fixed_company = fixed_company
        administered = _administered(user)
        if fixed_company is not None or not administered.exists():
            del self.fields["company"]
        else:
            self.fields["company"].queryset = administered
            self.fields["company"].initial = administered.first()
            if administered.count() == 1:
                self.fields["company"].widget = forms.HiddenInput()
        if fixed_company is not None or administered.exists():
            del self.fields["company_name"]

    def clean_number(self) -> str:
        number = normalize_number(self.cleaned_data["number"])
        if not NUMBER_SHAPE_RE.match(number):
            raise forms.ValidationError(_("Enter the account or plan number as printed: letters and digits only."))
        return number

    def clean_invoice_number(self) -> str:
        value = self.cleaned_data["invoice_number"].strip()
        if not value:
            raise forms.ValidationError(_("Enter the invoice number."))
        return value

    def clean_control_id(self) -> str:
        value = self.cleaned_data["control_id"].strip().upper()
        if not value:
            raise forms.ValidationError(_("Enter the control ID."))
        return value

    @property
    def target_company(self) -> Company | None:
        if self.fixed_company is not None:
            return self.fixed_company
        return self.cleaned_data.get("company")


class AccessRequestForm(forms.Form):
    message = forms.CharField(
        label=_("Message to the Administrators (optional)"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class AccountOpenForm(forms.Form):
    """Open a new account without an invoice (R26)."""

    company_name = forms.CharField(label=_("Company name"), max_length=200)
    address = forms.CharField(label=_("Address"), max_length=300)
    country = forms.ChoiceField(label=_("Country"), choices=COUNTRY_CHOICES, initial="KR")
    contact_phone = forms.CharField(
        label=_("Contact phone"),
        max_length=40,
        help_text=_("Digits, spaces, hyphens and a leading + only."),
    )
    contact_email = forms.EmailField(label=_("Contact e-mail"))
    company = forms.ModelChoiceField(
        label=_("Company"),
        queryset=Company.objects.none(),
        required=False,
        empty_label=_("A new company"),
        help_text=_("Add the account to a company you administer, or open a new company."),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        administered = _administered(user)
        if administered.exists():
            self.fields["company"].queryset = administered
        else:
            del self.fields["company"]

    def clean_company_name(self) -> str:
        value = self.cleaned_data["company_name"].strip()
        if not value:
            raise forms.ValidationError(_("Enter the company name."))
        return value

    def clean_address(self) -> str:
        value = self.cleaned_data["address"].strip()
        if not value:
            raise forms.ValidationError(_("Enter the address."))
        return value

    def clean_contact_phone(self) -> str:
        value = self.cleaned_data["contact_phone"].strip()
        if not re.fullmatch(r"\+?[0-9][0-9 \-]{5,30}[0-9]", value):
            raise forms.ValidationError(_("Enter a phone number, for example 02-1234-5678."))
        return value


class XmlEnrolmentForm(forms.Form):
    enabled = forms.BooleanField(required=False, widget=forms.HiddenInput())


class ScopeFormMixin:
    """Role, accounts and plans limited to what the acting user may grant."""

    def setup_scope(self, *, company: Company, scope) -> None:
        accounts = ShippingAccount.objects.filter(company=company)
        plans = BillingPlan.objects.filter(company=company)
        roles = list(Role.choices)
        if not scope.is_administrator:
            accounts = accounts.filter(id__in=scope.account_ids)
            plans = plans.filter(id__in=scope.plan_ids)
            roles = [(v, label) for v, label in roles if v != Role.ADMINISTRATOR]
        self.fields["role"].choices = roles
        self.fields["accounts"].queryset = accounts.order_by("number")
        self.fields["plans"].queryset = plans.order_by("number")

    def clean(self):
        cleaned = super().clean()
        role = cleaned.get("role")
        if role and role != Role.ADMINISTRATOR and not cleaned.get("accounts") and not cleaned.get("plans"):
            self.add_error("accounts", _("Choose at least one account or plan for this role."))
        return cleaned


class IdMultipleChoiceField(forms.ModelMultipleChoiceField):
    """Check boxes of ids: a value that is not an id (text, or a number past the database's
    integer range, which ``__in`` lookups do not guard against) is a field error, not a 500."""

    def _check_values(self, value):
        for pk in value:
            try:
                valid = 0 < int(str(pk)) < 2**63
            except (TypeError, ValueError):
                valid = False
            if not valid:
                raise forms.ValidationError(
                    self.error_messages["invalid_pk_value"], code="invalid_pk_value", params={"pk": pk}
                )
        return super()._check_values(value)


def _scope_fields():
    return {
        "role": forms.ChoiceField(
            label=_("Role"),
            choices=Role.choices,
            widget=forms.RadioSelect,
            help_text=_(
                "Administrators see and manage everything; Managers act as administrators for "
                "their accounts and plans; the other roles see only their accounts and plans."
            ),
        ),
        "accounts": IdMultipleChoiceField(
            label=_("Accounts"),
            queryset=ShippingAccount.objects.none(),
            required=False,
            widget=forms.CheckboxSelectMultiple,
        ),
        "plans": IdMultipleChoiceField(
            label=_("Plans"),
            queryset=BillingPlan.objects.none(),
            required=False,
            widget=forms.CheckboxSelectMultiple,
        ),
    }


class MembershipAddForm(ScopeFormMixin, forms.Form):
    username = forms.CharField(label=_("User ID"), max_length=150)
    email = forms.EmailField(label=_("E-mail address"))

    def __init__(self, *args, company: Company, scope, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields.update(_scope_fields())
        self.setup_scope(company=company, scope=scope)


class InvitationForm(ScopeFormMixin, forms.Form):
    email = forms.EmailField(label=_("E-mail address"))

    def __init__(self, *args, company: Company, scope, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields.update(_scope_fields())
        self.setup_scope(company=company, scope=scope)


class MembershipEditForm(ScopeFormMixin, forms.Form):
    def __init__(self, *args, company: Company, scope, membership: Membership, **kwargs):
        kwargs.setdefault(
            "initial",
            {
                "role": membership.role,
                "accounts": list(membership.accounts.all()),
                "plans": list(membership.plans.all()),
            },
        )
        super().__init__(*args, **kwargs)
        self.fields.update(_scope_fields())
        self.setup_scope(company=company, scope=scope)


class ActivityFilterForm(forms.Form):
    user = forms.ModelChoiceField(
        label=_("User"), queryset=Membership.objects.none(), required=False, empty_label=_("All users")
    )
    action = forms.ChoiceField(label=_("Action"), required=False)
    date_from = forms.DateField(label=_("From"), required=False, input_formats=["%Y-%m-%d"], widget=DateInput())
    date_to = forms.DateField(label=_("To"), required=False, input_formats=["%Y-%m-%d"], widget=DateInput())

    def __init__(self, *args, users, actions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = users
        self.fields["action"].choices = [("", _("All actions"))] + [(a, a) for a in actions]

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end date must not be before the start date."))
        return cleaned
