from decimal import Decimal

import pytest

from core.money import UnknownCurrency, format_money, from_minor, quantize, to_minor


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (Decimal("13000"), "KRW", "₩13,000"),
        (Decimal("12.34"), "USD", "$12.34"),
        (Decimal("1234567.5"), "USD", "$1,234,567.50"),
        (Decimal("-5000"), "KRW", "-₩5,000"),
        (Decimal("500"), "JPY", "¥500"),
        (Decimal("0"), "KRW", "₩0"),
    ],
)
def test_format_money_follows_the_currency(amount, currency, expected):
    assert format_money(amount, currency) == expected


def test_krw_and_jpy_have_no_minor_units_when_rounding():
    assert quantize(Decimal("13000.5"), "KRW") == Decimal("13001")
    assert quantize(Decimal("12.345"), "USD") == Decimal("12.35")


def test_gateway_amounts_are_integer_minor_units():
    assert to_minor(Decimal("13000"), "KRW") == 13000
    assert to_minor(Decimal("12.34"), "USD") == 1234
    assert from_minor(1234, "USD") == Decimal("12.34")
    assert from_minor(13000, "KRW") == Decimal("13000")


def test_to_minor_refuses_precision_the_currency_lacks():
    with pytest.raises(ValueError):
        to_minor(Decimal("100.5"), "KRW")


def test_unknown_currency_is_refused():
    with pytest.raises(UnknownCurrency):
        format_money(Decimal("1"), "XXX")
