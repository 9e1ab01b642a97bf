"""The one form field for an amount a person types (issue 16): ``MoneyField``.

People type amounts as they see them printed: ``1,000,000``, ``₩1,000,000``, ``1 000 000``,
``$1,234.50``, ``100,000원``, full-width ``１，０００``, with spaces around. The field takes all of
those and gives a ``Decimal``; it refuses, with one translated message on the field:

- anything that is not such an amount (letters, two signs, ``1,00,0``, ``1.2.3``, ``1e5``);
- more decimals than the currency has (KRW and JPY none, USD two); with no currency known yet
  (Pay Now before the invoice is found, a table mixing currencies), two;
- a negative amount, unless ``allow_negative`` (an amount due as printed on a credit invoice);
- zero, unless ``allow_zero`` (a filter's lower bound, an amount due that is zero);
- more digits than an amount column holds (``max_digits``).

The currency can be given when the form is made (``field.currency = "USD"``). How an amount is
shown does not change: ``core.money.format_money``.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation

from django import forms
from django.utils.translation import gettext_lazy as _

from .money import SYMBOLS, format_money, minor_units

# Signs and codes a person may write before or after the number (NFKC has already turned the
# full-width ￦ and ＄ into ₩ and $). Longest first, so "HK$" is taken before "$".
_SIGNS = sorted({*SYMBOLS.values(), *SYMBOLS.keys(), "원", "$", "₩", "¥"}, key=len, reverse=True)
# Digits in groups of three separated by one comma or one space, or digits without groups; then a
# decimal point and digits. Spaces here are any Unicode space (NBSP, thin space) made " " first.
_AMOUNT = re.compile(r"^(?:\d{1,3}(?:,\d{3})+|\d{1,3}(?: \d{3})+|\d+)(?:\.(\d+))?$")
_SPACES = re.compile(r"\s+")


def amount_parse(value: str) -> tuple[Decimal, int, str] | None:
    """``"₩1,000,000"`` → ``(Decimal("1000000"), 0, "₩")``: the amount, how many decimals were typed
    and the currency sign or code typed ("" for none); None when the text is not an amount."""
    text = _SPACES.sub(" ", unicodedata.normalize("NFKC", value or "")).strip()
    negative = False
    if text.startswith(("-", "−")):
        negative, text = True, text[1:].lstrip()
    typed = ""
    for sign in _SIGNS:
        if text.startswith(sign):
            typed, text = sign, text[len(sign) :].lstrip()
            break
    else:
        for sign in _SIGNS:
            if text.endswith(sign):
                typed, text = sign, text[: -len(sign)].rstrip()
                break
    if text.startswith(("-", "−")) and not negative:  # "₩-5,000"
        negative, text = True, text[1:].lstrip()
    match = _AMOUNT.match(text)
    if not match:
        return None
    try:
        amount = Decimal(text.replace(",", "").replace(" ", ""))
    except InvalidOperation:  # pragma: no cover - the pattern already excludes it
        return None
    return (-amount if negative else amount), len(match.group(1) or ""), typed


def sign_fits(sign: str, currency: str) -> bool:
    """Is ``sign`` (typed before or after an amount) a way to write ``currency``? "원" is KRW, "$" any
    dollar, "¥" the yen; a code or the currency's own symbol always."""
    symbol = SYMBOLS.get(currency, "")
    return (
        not sign
        or sign in (currency, symbol)
        or (sign == "원" and currency == "KRW")
        or (sign == "$" and symbol.endswith("$"))
        or (sign == "¥" and currency == "JPY")
    )


class MoneyField(forms.Field):
    """An amount as people type it; ``Decimal`` in ``cleaned_data`` (see the module's docstring)."""

    widget = forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"})
    default_error_messages = {
        "invalid": _("Enter an amount such as %(example)s."),
        "decimals_none": _("%(currency)s amounts have no decimals: enter whole %(currency)s, such as %(example)s."),
        "decimals": _("Enter at most %(places)d decimals, such as %(example)s."),
        "negative": _("Enter an amount above zero."),
        "zero": _("Enter an amount above zero."),
        "too_large": _("Enter a smaller amount."),
    }

    def __init__(
        self,
        *,
        currency: str | None = None,
        allow_zero: bool = False,
        allow_negative: bool = False,
        max_digits: int = 16,
        **kwargs,
    ):
        self.currency = currency
        self.allow_zero = allow_zero
        self.allow_negative = allow_negative
        self.max_digits = max_digits
        super().__init__(**kwargs)

    def _places(self) -> int:
        return minor_units(self.currency) if self.currency else 2

    def _example(self) -> str:
        if self.currency:
            return format_money(Decimal("1000000") if self._places() == 0 else Decimal("1234.50"), self.currency)
        return "1,234.50"

    def to_python(self, value):
        if isinstance(value, str):
            value = value.strip()
        if value in self.empty_values:
            return None
        if isinstance(value, Decimal | int):
            return Decimal(value)
        parsed = amount_parse(str(value))
        if parsed is None:
            raise forms.ValidationError(
                self.error_messages["invalid"], code="invalid", params={"example": self._example()}
            )
        amount, typed_places, sign = parsed
        if self.currency and not sign_fits(sign, self.currency):
            raise forms.ValidationError(
                self.error_messages["invalid"], code="invalid", params={"example": self._example()}
            )
        places = self._places()
        # First, before any rounding: a number longer than an amount column (16 digits, 2 of them
        # decimals) is refused, and quantize never sees more digits than Decimal's precision.
        digits = amount.as_tuple()
        if len(digits.digits) + min(0, digits.exponent) > self.max_digits - 2:
            raise forms.ValidationError(self.error_messages["too_large"], code="too_large")
        if typed_places > places and amount != amount.quantize(Decimal(1).scaleb(-places)):
            if places == 0:
                raise forms.ValidationError(
                    self.error_messages["decimals_none"],
                    code="decimals",
                    params={"currency": self.currency, "example": self._example()},
                )
            raise forms.ValidationError(
                self.error_messages["decimals"], code="decimals", params={"places": places, "example": self._example()}
            )
        amount = amount.quantize(Decimal(1).scaleb(-places)) if typed_places > places else amount
        return amount

    def validate(self, value):
        super().validate(value)
        if value is None:
            return
        if value < 0 and not self.allow_negative:
            raise forms.ValidationError(self.error_messages["negative"], code="negative")
        if value == 0 and not self.allow_zero:
            raise forms.ValidationError(self.error_messages["zero"], code="zero")

    def widget_attrs(self, widget):
        return {**super().widget_attrs(widget), "inputmode": "decimal"}
