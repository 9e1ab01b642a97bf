"""Shared pieces for the Django admin of billing staff."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin

from .money import format_money


def money_column(field: str, currency_path: str, *, label, ordering: str | None = None) -> Callable:
    """A changelist column showing ``field`` formatted in its currency (``₩13,000``, ``$12.34``).

    ``currency_path`` is the attribute path of the currency from the row, e.g. ``"currency"`` or
    ``"invoice.currency"``; the admin's ``list_select_related`` must cover the relation.
    """

    @admin.display(description=label, ordering=ordering or field)
    def column(self, obj):
        currency = obj
        for part in currency_path.split("."):
            currency = getattr(currency, part, None)
            if currency is None:
                return getattr(obj, field)
        amount = getattr(obj, field)
        if amount is None:
            return "-"
        try:
            return format_money(amount, currency)
        except ValueError:
            return f"{amount} {currency}"

    column.__name__ = f"{field}_display"
    return column


class ReadOnlyAdminMixin:
    """Visible to staff, never added, changed or deleted through the admin (records, not data)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
