"""The enrolment tolerance: what a person may type differently, and nothing looser."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from accounts.forms import EnrolmentForm, normalize_number


@pytest.mark.parametrize(
    ("typed", "normalised"),
    [(" 7k3x9a ", "7K3X9A"), ("7K3-X9A", "7K3X9A"), ("7K 3X 9A", "7K3X9A"), ("P0000001", "P0000001")],
)
def test_account_number_is_trimmed_ungrouped_and_upper_cased(typed, normalised):
    assert normalize_number(typed) == normalised


@pytest.mark.parametrize(
    ("typed", "amount"),
    [
        ("1,234,000", Decimal("1234000")),
        ("₩1,234,000", Decimal("1234000")),
        ("￦1,234,000", Decimal("1234000")),
        ("1234000", Decimal("1234000")),
        (" 1234000 ", Decimal("1234000")),
        ("$12.34", Decimal("12.34")),
        ("1,234.50", Decimal("1234.50")),
        # Issue 16: as Korean users type and PDFs copy (core.forms.MoneyField, one input for all).
        ("1234000원", Decimal("1234000")),
        ("1 234 000", Decimal("1234000")),
        ("-₩25,000", Decimal("-25000")),  # a credit invoice's amount due, as printed
        ("0", Decimal("0")),
    ],
)
def test_amount_accepts_currency_sign_and_thousands_separators(typed, amount):
    assert EnrolmentForm.base_fields["amount"].clean(typed) == amount


@pytest.mark.parametrize("typed", ["1,23,4000", "12,34000", "1.234.000", "1234.567", "about 1234000", "", "₩"])
def test_amount_refuses_anything_looser(typed):
    with pytest.raises(ValidationError):
        EnrolmentForm.base_fields["amount"].clean(typed)


@pytest.mark.django_db
def test_enrolment_form_normalises_values(enrolling_user):
    form = EnrolmentForm(
        {
            "number": " 7k3-x9a ",
            "invoice_number": "  inv-2026-0001 ",
            "invoice_date": "2026-11-01",
            "amount": "₩1,234,000",
            "control_id": " qw12er ",
        },
        user=enrolling_user,
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["number"] == "7K3X9A"
    assert form.cleaned_data["invoice_number"] == "inv-2026-0001"
    assert form.cleaned_data["amount"] == Decimal("1234000")
    assert form.cleaned_data["control_id"] == "QW12ER"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("number", "7K3X9A!"),
        ("number", "AB"),
        ("invoice_date", "01/11/2026"),
        ("invoice_date", "2026-02-30"),
        ("amount", "abc"),
    ],
)
def test_enrolment_form_refuses_bad_shapes_next_to_the_field(enrolling_user, field, value):
    data = {
        "number": "7K3X9A",
        "invoice_number": "INV1",
        "invoice_date": "2026-11-01",
        "amount": "1000",
        "control_id": "C1",
        field: value,
    }
    form = EnrolmentForm(data, user=enrolling_user)
    assert not form.is_valid()
    assert field in form.errors
