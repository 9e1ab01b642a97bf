"""Money: ``Decimal`` amounts with an ISO 4217 currency.

The one place that knows each currency's minor units and how to show an
amount. KRW and JPY have no minor units (₩13,000; ¥500); USD and EUR have two
($12.34). Gateway adapters convert to integer minor units with ``to_minor``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# ISO 4217 minor units for the currencies the carrier bills in.
MINOR_UNITS: dict[str, int] = {
    "KRW": 0,
    "JPY": 0,
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "CNY": 2,
    "HKD": 2,
    "SGD": 2,
    "AUD": 2,
    "CAD": 2,
}

SYMBOLS: dict[str, str] = {
    "KRW": "₩",
    "JPY": "¥",
    "USD": "$",
    "EUR": "€",
    "GBP": "£",
    "CNY": "CN¥",
    "HKD": "HK$",
    "SGD": "S$",
    "AUD": "A$",
    "CAD": "CA$",
}

CURRENCY_CHOICES = [(code, code) for code in MINOR_UNITS]


class UnknownCurrency(ValueError):
    pass


def minor_units(currency: str) -> int:
    try:
        return MINOR_UNITS[currency]
    except KeyError:
        raise UnknownCurrency(currency) from None


def quantize(amount: Decimal | int | str, currency: str) -> Decimal:
    """Round ``amount`` to the currency's minor unit (half up)."""
    exponent = Decimal(1).scaleb(-minor_units(currency))
    try:
        value = Decimal(amount)
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {amount!r}") from exc
    return value.quantize(exponent, rounding=ROUND_HALF_UP)


def to_minor(amount: Decimal, currency: str) -> int:
    """Integer minor units, as gateways want them: ₩13,000 → 13000, $12.34 → 1234."""
    value = quantize(amount, currency)
    if value != Decimal(amount):
        raise ValueError(f"{amount} has more precision than {currency} allows")
    return int(value.scaleb(minor_units(currency)))


def from_minor(units: int, currency: str) -> Decimal:
    return quantize(Decimal(units).scaleb(-minor_units(currency)), currency)


def format_money(amount: Decimal | int | str | None, currency: str) -> str:
    """``₩13,000``, ``$12.34``, ``-₩5,000``; unknown currencies show their code."""
    if amount is None:
        return ""
    value = quantize(amount, currency)
    sign = "-" if value < 0 else ""
    digits = minor_units(currency)
    number = f"{abs(value):,.{digits}f}"
    symbol = SYMBOLS.get(currency)
    if symbol is None:
        return f"{sign}{number} {currency}"
    return f"{sign}{symbol}{number}"
