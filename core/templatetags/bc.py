"""Template helpers shared by every page: money, navigation state, the bar chart.

Load with ``{% load bc %}``.
"""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from core.money import UnknownCurrency, format_money

register = template.Library()


@register.filter
def money(amount, currency):
    """``{{ invoice.total|money:invoice.currency }}`` → ``₩13,000`` / ``$12.34``."""
    if amount is None or amount == "":
        return ""
    try:
        return format_money(amount, currency)
    except (UnknownCurrency, ValueError):
        return f"{amount} {currency}"


@register.simple_tag(takes_context=True)
def nav_current(context, *view_names):
    """` aria-current="page"` when the current URL resolves to one of ``view_names``."""
    request = context.get("request")
    match = getattr(request, "resolver_match", None)
    if match is not None and match.view_name in view_names:
        return mark_safe(' aria-current="page"')
    return ""


CHART_WIDTH = 480
CHART_HEIGHT = 200
CHART_TOP = 22
CHART_BOTTOM = 28  # room for month labels
CHART_LEFT = 8


@register.inclusion_tag("includes/bar_chart.html")
def bar_chart(series):
    """A server-rendered SVG bar chart of one currency's monthly billed amounts.

    ``series`` is a ``ChartSeries`` (currency, points of (month, amount)).
    """
    points = list(series.points)
    peak = max((amount for _month, amount in points), default=Decimal(0))
    plot_height = CHART_HEIGHT - CHART_TOP - CHART_BOTTOM
    slot = (CHART_WIDTH - CHART_LEFT * 2) / max(len(points), 1)
    bar_width = slot * 0.62
    bars = []
    for index, (month, amount) in enumerate(points):
        height = 0.0 if peak <= 0 else float(max(amount, 0) / peak) * plot_height
        x = CHART_LEFT + index * slot + (slot - bar_width) / 2
        bars.append(
            {
                "month": month,
                "amount": amount,
                "x": round(x, 1),
                "y": round(CHART_TOP + plot_height - height, 1),
                "width": round(bar_width, 1),
                "height": round(height, 1),
                "label_x": round(x + bar_width / 2, 1),
            }
        )
    return {
        "series": series,
        "bars": bars,
        "peak": peak,
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "baseline": CHART_TOP + plot_height,
        "top": CHART_TOP,
        "peak_y": CHART_TOP - 4,
        "label_y": CHART_HEIGHT - 8,
    }


# An invoice's display status (and "disputed") as a badge: ``{% status_badge invoice.display_status %}``.
# A tag rather than an included template: tables show two per row.
STATUS_BADGES = {
    "past_due": gettext_lazy("Past due"),
    "open": gettext_lazy("Open"),
    "paid": gettext_lazy("Paid"),
    "credit": gettext_lazy("Credit"),
    "disputed": gettext_lazy("Disputed"),
}


@register.simple_tag
def status_badge(status):
    label = STATUS_BADGES.get(status)
    if label is None:
        return format_html('<span class="badge">{}</span>', status)
    return format_html('<span class="badge badge-{}">{}</span>', status, label)
