"""Forms for filing and following disputes: they check shape; services check the rules."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from core.forms import MoneyField
from core.money import format_money

from .models import DisputeReason, DisputeStatus
from .services.attachments import MAX_ATTACHMENTS
from .services.filing import DisputeItemInput

ACCEPT = ".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"
REASON_CHOICES = [("", _("Choose a reason")), *DisputeReason.choices]


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files from one input; each is checked by content in the service."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ACCEPT, "multiple": True}))
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, (list, tuple)):
            files = [single(item, initial) for item in data if item]
        else:
            files = [single(data, initial)] if data else []
        files = [f for f in files if f]
        if len(files) > MAX_ATTACHMENTS:
            raise forms.ValidationError(_("Attach at most %(count)d files."), params={"count": MAX_ATTACHMENTS})
        return files


def _attachments_field():
    return MultipleFileField(
        label=_("Attachments (optional)"),
        help_text=_("PDF, JPEG or PNG, at most 5 MB each, up to %(count)d files.") % {"count": MAX_ATTACHMENTS},
    )


def _amount_field(label, charge=None, currency=None):
    attrs = {"inputmode": "decimal", "class": "dispute-amount", "autocomplete": "off"}
    if charge is not None:
        attrs["data-charge"] = format(charge.normalize(), "f")
    return MoneyField(
        label=label,
        required=False,
        currency=currency,
        widget=forms.TextInput(attrs=attrs),
        help_text=(_("At most %(charge)s") % {"charge": format_money(charge, currency)}) if charge is not None else "",
    )


class DisputeFileForm(forms.Form):
    """One invoice: choose charges (or the whole invoice), a reason and an amount for each."""

    whole = forms.BooleanField(label=_("Dispute the whole invoice"), required=False)
    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Tell us what is wrong and what you expected to be charged."),
    )

    def __init__(self, *args, invoice, lines, **kwargs):
        super().__init__(*args, **kwargs)
        self.invoice = invoice
        self.line_rows = []
        self.fields["whole_reason"] = forms.ChoiceField(label=_("Reason"), choices=REASON_CHOICES, required=False)
        self.fields["whole_amount"] = _amount_field(_("Disputed amount"), invoice.total, invoice.currency)
        for disputable in lines:
            line = disputable.line
            prefix = f"line_{line.id}"
            self.fields[prefix] = forms.BooleanField(
                label=_("Dispute this charge"), required=False, disabled=bool(disputable.open_reference)
            )
            self.fields[f"{prefix}_reason"] = forms.ChoiceField(
                label=_("Reason"), choices=REASON_CHOICES, required=False
            )
            self.fields[f"{prefix}_amount"] = _amount_field(_("Disputed amount"), line.amount, invoice.currency)
            self.line_rows.append(
                {
                    "line": line,
                    "open_reference": disputable.open_reference,
                    "select": self[prefix],
                    "reason": self[f"{prefix}_reason"],
                    "amount": self[f"{prefix}_amount"],
                }
            )
        self.fields["attachments"] = _attachments_field()
        # Keep the comment and attachments last in the form's order.
        self.order_fields(["whole", "whole_reason", "whole_amount"])

    def _item(self, prefix: str, line_id, data) -> DisputeItemInput | None:
        reason = data.get(f"{prefix}_reason")
        amount = data.get(f"{prefix}_amount")
        ok = True
        if not reason:
            self.add_error(f"{prefix}_reason", _("Choose a reason."))
            ok = False
        if amount is None and f"{prefix}_amount" not in self.errors:
            self.add_error(f"{prefix}_amount", _("Enter the disputed amount."))
            ok = False
        if not ok or amount is None:
            return None
        return DisputeItemInput(line_id=line_id, reason=reason, amount=amount, field_prefix=f"{prefix}_")

    def clean(self):
        data = super().clean()
        items = []
        if data.get("whole"):
            item = self._item("whole", None, data)
            if item:
                items.append(item)
        else:
            for row in self.line_rows:
                line = row["line"]
                if data.get(f"line_{line.id}"):
                    item = self._item(f"line_{line.id}", line.id, data)
                    if item:
                        items.append(item)
            if not items and not self.errors:
                raise forms.ValidationError(
                    _("Select at least one charge to dispute, or the whole invoice."), code="no_items"
                )
        data["items"] = items
        return data


class DisputeBulkForm(forms.Form):
    """Several invoices, each disputed whole, for one reason."""

    reason = forms.ChoiceField(label=_("Reason"), choices=REASON_CHOICES)
    comment = forms.CharField(
        label=_("Comment"), required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 4})
    )
    attachments = _attachments_field()


class DisputeMessageForm(forms.Form):
    body = forms.CharField(
        label=_("Message to billing staff"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3})
    )


class DisputeListForm(forms.Form):
    STATUS_CHOICES = [("", _("All statuses")), ("open", _("Open (submitted or under review)")), *DisputeStatus.choices]

    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=60,
        widget=forms.TextInput(attrs={"placeholder": _("Dispute, invoice or account number"), "type": "search"}),
    )
    status = forms.ChoiceField(label=_("Status"), choices=STATUS_CHOICES, required=False)
    # From an invoice's Actions menu: that invoice's disputes, with a link to file one.
    invoice = forms.CharField(required=False, max_length=20, widget=forms.HiddenInput)


class HelpSearchForm(forms.Form):
    q = forms.CharField(
        label=_("Search help topics"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("e.g. AutoPay, print fee, dispute")}),
    )
