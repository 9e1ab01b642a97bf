"""allauth's account adapter, extended so a log-in lock-out leaves an audit event.

It also answers ``get_client_ip`` for the whole project (core.client_ip asks it).

allauth refuses a log-in once ACCOUNT_RATE_LIMITS["login_failed"] is used up (per IP and per
user ID or e-mail typed) by raising a validation error from ``pre_authenticate``; it sends no
signal. The first refusal of each lock-out is audited as ``auth.login_locked_out`` (later
refusals within the window are not, so a brute-force run cannot flood the audit trail).
"""

from __future__ import annotations

import hashlib

from allauth.account.adapter import DefaultAccountAdapter
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured, ValidationError

from core.client_ip import client_ip

from .audit import audit_record

LOCKOUT_AUDIT_WINDOW = 5 * 60  # seconds: the longest window of ACCOUNT_RATE_LIMITS["login_failed"]


class _Connected:
    """The request seen as a direct connection (no proxy headers), for allauth's parser."""

    def __init__(self, request):
        self.META = {"REMOTE_ADDR": request.META.get("REMOTE_ADDR", "")}
        self.headers: dict[str, str] = {}


class AccountAdapter(DefaultAccountAdapter):
    def get_client_ip(self, request):
        """allauth's answer, but a header shorter than the proxy count is no 500.

        With ``ALLAUTH_TRUSTED_PROXY_COUNT = N`` allauth raises ``ImproperlyConfigured`` when
        X-Forwarded-For has fewer than N entries: the request did not pass all our proxies, so no
        entry of the header can be vouched for (it may have reached the app directly with a forged
        one). The connection's own address is then the client: at worst one of our proxies, which
        limits everyone behind it together (the safe direction), never an address the client chose.
        """
        try:
            return super().get_client_ip(request)
        except ImproperlyConfigured:
            return super().get_client_ip(_Connected(request))

    def pre_authenticate(self, request, **credentials):
        try:
            super().pre_authenticate(request, **credentials)
        except ValidationError:
            login = str(credentials.get("email") or credentials.get("username") or "")[:150]
            ip = client_ip(request)
            digest = hashlib.sha256(f"{ip}|{login.lower()}".encode()).hexdigest()
            if cache.add(f"auth:lockout-audited:{digest}", 1, LOCKOUT_AUDIT_WINDOW):
                audit_record(action="auth.login_locked_out", data={"login": login}, ip_address=ip)
            raise
