"""Every URL pattern of the project, filled with real ids, numbers and references.

``url_patterns()`` walks ``get_resolver()`` recursively; ``fill(route, side)`` replaces each path
converter or named group with the id of an object of ``side`` (see world.py), so the same pattern
can be requested with our objects and with another company's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.urls import URLPattern, URLResolver, get_resolver

from tests.security.world import Side

_PARAM = re.compile(r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>|\(\?P<(?P<rname>\w+)>[^)]*\)")


@dataclass(frozen=True)
class Pattern:
    route: str  # e.g. "invoices/<str:number>/pdf/"
    name: str  # "invoices:pdf"
    callback: object

    @property
    def params(self) -> list[str]:
        return [m.group("name") or m.group("rname") for m in _PARAM.finditer(self.route)]


def _route(pattern) -> str:
    text = str(pattern.pattern)
    return text.removeprefix("^").removesuffix("$")


def url_patterns() -> list[Pattern]:
    found: list[Pattern] = []

    def walk(resolver: URLResolver, prefix: str, namespace: str):
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
                walk(entry, prefix + _route(entry), ns)
            elif isinstance(entry, URLPattern):
                found.append(Pattern(prefix + _route(entry), f"{namespace}{entry.name or ''}", entry.callback))

    walk(get_resolver(), "", "")
    return found


def _value(route: str, name: str, side: Side) -> str:
    """The object of ``side`` that parameter ``name`` of ``route`` stands for."""
    if name == "number":
        if route.startswith("manage/accounts/"):
            return side.account.number
        if route.startswith("manage/plans/"):
            return side.plan.number
        return side.invoice.number
    if name == "job_id":
        return str(side.export.id)
    if name == "key":
        if route.startswith("payments/"):
            return side.attempt_key
        return "not-a-real-key"  # allauth's e-mail confirmation and password reset keys
    if name == "reference":
        return side.dispute.reference if route.startswith("disputes/") else side.payment.reference
    if name == "pk" and route.startswith("admin/"):  # the admin's own views (dispute decisions …)
        for kind in ("dispute", "payment", "invoice"):
            if f"/{kind}/" in route:
                return str(getattr(side, kind).pk)
        return str(side.invoice.pk)
    if name == "pk":
        if route.startswith("payments/wallet/"):
            return str(side.method.pk)
        if route.startswith("payments/autopay/"):
            return str(side.schedule.pk)
        if route.startswith("disputes/"):
            return str(side.attachment.pk)
        if "invitations" in route:
            return str(side.invitation.pk)
        if route.startswith("manage/users/"):
            return str(side.memberships["administrator"].pk)
    if name == "uidb36":
        return "1"
    if name == "app_label":
        return "invoices"
    if name == "content_type_id":
        return str(ContentType.objects.get_by_natural_key("invoices", "invoice").pk)
    if name == "id":  # admin's user password change
        return str(side.users["administrator"].pk)
    if name == "object_id":
        return str(side.invoice.pk)
    if name == "url":
        return f"invoices/invoice/{side.invoice.pk}/change/"
    raise AssertionError(f"no value for <{name}> in {route!r}: add it to tests/security/urlmap.py")


def fill(pattern: Pattern, side: Side, values: dict[str, str] | None = None) -> str:
    """The pattern's URL with ``side``'s objects; ``values`` names other objects for some parameters."""

    def replace(match: re.Match) -> str:
        name = match.group("name") or match.group("rname")
        if values and name in values:
            return values[name]
        return _value(pattern.route, name, side)

    return "/" + _PARAM.sub(replace, pattern.route)
