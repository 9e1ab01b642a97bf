"""core.forms.MoneyField: the one amount input (issue 16), every spelling people type."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django import forms
from django.utils import translation

from core.forms import MoneyField


def clean(typed, language="en", **options):
    class Form(forms.Form):
        amount = MoneyField(**options)

    with translation.override(language):
        form = Form({"amount": typed})
        if form.is_valid():
            return form.cleaned_data["amount"]
        return [str(error) for error in form.errors["amount"]]


@pytest.mark.parametrize(
    ("typed", "currency", "amount"),
    [
        ("1,000,000", "KRW", Decimal("1000000")),
        ("₩1,000,000", "KRW", Decimal("1000000")),
        ("￦1,000,000", "KRW", Decimal("1000000")),  # the full-width won sign
        ("1 000 000", "KRW", Decimal("1000000")),
        ("1\u00a0000\u00a0000", "KRW", Decimal("1000000")),  # no-break spaces, as copied from a PDF
        ("１，０００，０００", "KRW", Decimal("1000000")),  # full-width digits and comma
        ("100,000원", "KRW", Decimal("100000")),
        ("  ₩ 58,163  ", "KRW", Decimal("58163")),
        ("1000000", "KRW", Decimal("1000000")),
        ("13,000.00", "KRW", Decimal("13000")),  # zero decimals are no decimals
        ("KRW 13,000", "KRW", Decimal("13000")),
        ("$1,234.50", "USD", Decimal("1234.50")),
        ("1,234.5", "USD", Decimal("1234.5")),
        ("USD 1234.50", "USD", Decimal("1234.50")),
        ("1234.50 USD", "USD", Decimal("1234.50")),
        ("€12.30", "EUR", Decimal("12.30")),
        ("¥500", "JPY", Decimal("500")),
        ("$12.34", None, Decimal("12.34")),  # currency not known yet: two decimals at most
    ],
)
def test_amounts_as_people_type_them_are_accepted(typed, currency, amount):
    assert clean(typed, currency=currency) == amount


@pytest.mark.parametrize(
    ("typed", "currency", "message"),
    [
        ("1,000.5", "KRW", "KRW amounts have no decimals: enter whole KRW, such as ₩1,000,000."),
        ("12.345", "USD", "Enter at most 2 decimals, such as $1,234.50."),
        ("12.345", None, "Enter at most 2 decimals, such as 1,234.50."),
        ("-5,000", "KRW", "Enter an amount above zero."),
        ("₩-5,000", "KRW", "Enter an amount above zero."),
        ("0", "KRW", "Enter an amount above zero."),
        ("₩0", "KRW", "Enter an amount above zero."),
        ("abc", "KRW", "Enter an amount such as ₩1,000,000."),
        ("1,00,000", "KRW", "Enter an amount such as ₩1,000,000."),
        ("12,34000", "KRW", "Enter an amount such as ₩1,000,000."),
        ("1.234.000", "KRW", "Enter an amount such as ₩1,000,000."),
        ("1,000 000", "KRW", "Enter an amount such as ₩1,000,000."),
        ("1e5", "KRW", "Enter an amount such as ₩1,000,000."),
        ("₩", "KRW", "Enter an amount such as ₩1,000,000."),
        ("₩₩1,000", "KRW", "Enter an amount such as ₩1,000,000."),
        ("$100", "KRW", "Enter an amount such as ₩1,000,000."),  # another currency's sign
        ("100원", "USD", "Enter an amount such as $1,234.50."),
        ("about 1000", "KRW", "Enter an amount such as ₩1,000,000."),
        ("1000\x00", "KRW", "Enter an amount such as ₩1,000,000."),
        ("9" * 15, "KRW", "Enter a smaller amount."),
        ("9" * 60 + ".5", "KRW", "Enter a smaller amount."),  # never rounded: more digits than Decimal keeps
        ("1." + "0" * 60 + "1", "USD", "Enter at most 2 decimals, such as $1,234.50."),
    ],
)
def test_anything_else_gets_one_clear_message(typed, currency, message):
    assert clean(typed, currency=currency) == [message]


def test_zero_and_negative_only_where_they_mean_something():
    assert clean("0", allow_zero=True) == Decimal("0")
    assert clean("-₩25,000", allow_negative=True) == Decimal("-25000")
    assert clean("₩-25,000", allow_negative=True) == Decimal("-25000")
    assert clean("-25,000", allow_zero=True) == ["Enter an amount above zero."]


def test_empty_is_required_or_none():
    assert clean("", required=False) is None
    assert clean("   ", required=False) is None
    assert clean("") == ["This field is required."]


def test_the_korean_messages():
    assert clean("1,000.5", language="ko", currency="KRW") == [
        "KRW 금액에는 소수점이 없습니다. ₩1,000,000처럼 정수로 입력하십시오."
    ]
    assert clean("abc", language="ko", currency="KRW") == ["₩1,000,000처럼 금액을 입력하십시오."]


def test_every_typed_amount_goes_through_the_one_field():
    """A DecimalField in a form would refuse "1,000,000" again (issue 16): MoneyField only."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    apps = ("core", "accounts", "invoices", "payments", "disputes", "billing_centre")
    offenders = [
        str(path.relative_to(root))
        for app in apps
        for path in (root / app).rglob("*.py")
        if "migrations" not in path.parts and "forms.DecimalField(" in path.read_text()
    ]
    assert offenders == []
