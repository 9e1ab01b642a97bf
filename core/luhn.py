"""The Luhn check digit of card numbers: the simulated gateway validates with it, the error
reports' scrubber finds card numbers in free text with it."""

from __future__ import annotations

from django.views.decorators.debug import sensitive_variables


@sensitive_variables()
def luhn_valid(number: str) -> bool:
    """Does ``number`` (ASCII digits only) end in a correct Luhn check digit?"""
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0
