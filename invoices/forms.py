"""Forms of the invoice centre: they check the shape of what the URL or a POST carries."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from core.forms import MoneyField

from .models import ExportFormat
from .selectors.tables import DEFAULT_PAGE_SIZE, INVOICE_SORTS, PAGE_SIZES

# The most invoices one bulk download may hold.
BULK_MAX_INVOICES = 5000


class LongSelect(forms.Select):
    """A <select> built in Python: a large company's account filter has hundreds of options,
    and the template-per-option widget renderer spent ~80 ms on them per table page (issue 8)."""

    def render(self, name, value, attrs=None, renderer=None):
        from django.forms.utils import flatatt
        from django.utils.html import escape, format_html
        from django.utils.safestring import mark_safe

        selected = {str(item) for item in self.format_value(value)}
        parts = []
        for option_value, label in self.choices:
            key = str(option_value)
            mark = ""
            if key in selected:
                selected.clear()  # one option at most, like Django's Select
                mark = " selected"
            # escape() per value: format_html per option cost more than the rest of the page.
            parts.append(f'<option value="{escape(key)}"{mark}>{escape(label)}</option>')
        return format_html(
            "<select{}>{}</select>",
            flatatt(self.build_attrs(self.attrs, {**(attrs or {}), "name": name})),
            mark_safe("".join(parts)),  # noqa: S308 - every value and label is escaped above
        )


STATUS_CHOICES = [
    ("", _("Any status")),
    ("open", _("Open")),
    ("past_due", _("Past due")),
    ("paid", _("Paid")),
    ("credit", _("Credit")),
    ("disputed", _("Disputed")),
]


def _date_field(label):
    return forms.DateField(
        label=label,
        required=False,
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
        input_formats=["%Y-%m-%d"],
        error_messages={"invalid": _("Enter a date as YYYY-MM-DD.")},
    )


def _amount_field(label):
    # Tables mix currencies, and credits are negative: any sign, zero, up to two decimals.
    return MoneyField(label=label, required=False, allow_zero=True, allow_negative=True)


class _UrlStateForm(forms.Form):
    """A form read from the URL: ``filters()`` is what the selector gets."""

    def filters(self) -> dict:
        """The valid part of the state (invalid fields are left out and shown as errors)."""
        if not self.is_bound:
            return {}
        self.is_valid()
        return {key: value for key, value in self.cleaned_data.items() if value not in (None, "")}


class InvoiceTableForm(_UrlStateForm):
    """The state of an invoice table, read from the URL: search, filters, sort, page."""

    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=60,
        help_text=_("Invoice, account or plan number, or a tracking number."),
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    status = forms.ChoiceField(label=_("Status"), required=False, choices=STATUS_CHOICES)
    billable = forms.ChoiceField(label=_("Account"), required=False, widget=LongSelect)
    invoice_date_from = _date_field(_("Invoice date from"))
    invoice_date_to = _date_field(_("Invoice date to"))
    due_date_from = _date_field(_("Due date from"))
    due_date_to = _date_field(_("Due date to"))
    amount_min = _amount_field(_("Amount from"))
    amount_max = _amount_field(_("Amount to"))
    sort = forms.ChoiceField(label=_("Sort"), required=False)
    page_size = forms.TypedChoiceField(
        label=_("Rows per page"),
        required=False,
        coerce=int,
        choices=[(size, size) for size in PAGE_SIZES],
        empty_value=DEFAULT_PAGE_SIZE,
        initial=DEFAULT_PAGE_SIZE,
    )
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, data=None, *, kind: str, billable_choices, **kwargs):
        if data is not None and not data.get("page_size"):
            data = data.copy()
            data["page_size"] = str(DEFAULT_PAGE_SIZE)
        super().__init__(data, **kwargs)
        self.kind = kind
        self.fields["billable"].label = _("Plan") if kind == "plan" else _("Account")
        self.fields["billable"].choices = [("", _("All plans") if kind == "plan" else _("All accounts"))] + list(
            billable_choices
        )
        self.fields["sort"].choices = [("", "")] + [
            (f"{prefix}{key}", f"{prefix}{key}") for key in INVOICE_SORTS for prefix in ("", "-")
        ]

    def clean(self):
        cleaned = super().clean()
        for start, end, message in (
            ("invoice_date_from", "invoice_date_to", _("The end date is before the start date.")),
            ("due_date_from", "due_date_to", _("The end date is before the start date.")),
            ("amount_min", "amount_max", _("The upper amount is below the lower amount.")),
        ):
            low, high = cleaned.get(start), cleaned.get(end)
            if low is not None and high is not None and high < low:
                self.add_error(end, message)
        return cleaned


class BulkDownloadForm(forms.Form):
    """Download selected: the format, and either the checked invoices or "all matching the filter"."""

    format = forms.ChoiceField(label=_("Format"), choices=ExportFormat.choices)
    invoice = forms.MultipleChoiceField(required=False)  # invoice numbers; scope is checked later
    select_all = forms.BooleanField(required=False)
    kind = forms.ChoiceField(choices=[("account", "account"), ("plan", "plan")])
    # The table's URL query (its filters) when "all matching the filter" is chosen.
    query = forms.CharField(required=False, max_length=2000)

    def __init__(self, data=None, **kwargs):
        super().__init__(data, **kwargs)
        if data is not None:
            numbers = data.getlist("invoice") if hasattr(data, "getlist") else data.get("invoice", [])
            self.fields["invoice"].choices = [(number, number) for number in numbers]

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("select_all") and not cleaned.get("invoice"):
            raise forms.ValidationError(_("Select at least one invoice to download."), code="empty")
        if len(cleaned.get("invoice") or ()) > BULK_MAX_INVOICES:
            raise forms.ValidationError(
                _("Select at most %(max)d invoices per download."),
                code="too_many",
                params={"max": BULK_MAX_INVOICES},
            )
        return cleaned


class ShipmentFilterForm(_UrlStateForm):
    tracking = forms.CharField(
        label=_("Tracking number"),
        required=False,
        max_length=18,
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    account = forms.ChoiceField(label=_("Account"), required=False)
    ship_date_from = _date_field(_("Ship date from"))
    ship_date_to = _date_field(_("Ship date to"))
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, data=None, *, account_choices, **kwargs):
        super().__init__(data, **kwargs)
        self.fields["account"].choices = [("", _("All accounts"))] + list(account_choices)

    def clean(self):
        cleaned = super().clean()
        low, high = cleaned.get("ship_date_from"), cleaned.get("ship_date_to")
        if low and high and high < low:
            self.add_error("ship_date_to", _("The end date is before the start date."))
        return cleaned
