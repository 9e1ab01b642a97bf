"""The client's IP address: one function for the whole project.

Rate limits (allauth's and ours), lock-outs and the audit trail all ask this function, so they
agree on who the client is. It delegates to allauth's account adapter, which reads the trusted-
proxy settings (``ALLAUTH_TRUSTED_PROXY_COUNT``, from ``BC_TRUSTED_PROXY_COUNT``): with no proxy
trusted (the default) ``X-Forwarded-For`` is ignored and ``REMOTE_ADDR`` is the client, so a
forged header never chooses the address; behind N proxies of ours, the address the N-th proxy
from the right appended is the client.
"""

from __future__ import annotations

from allauth.account.adapter import get_adapter
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The client's address, or None when it cannot be told (a header shorter than the proxy count)."""
    try:
        return get_adapter(request).get_client_ip(request)
    except (PermissionDenied, ImproperlyConfigured):
        return None
