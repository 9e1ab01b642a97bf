"""Error reports to Sentry (sentry-sdk), on only when ``SENTRY_DSN`` is set; card data never leaves.

``sentry_init`` is called by settings.py, so web processes, Celery workers and management commands
all report (Django and Celery integrations). It is idempotent: a second call with the same
settings does nothing, and with an empty DSN no client is made at all.

``scrub_event`` (``before_send``, also ``before_send_transaction`` and ``before_breadcrumb``)
walks the whole event — request data, headers, cookies, query string, extras, breadcrumbs, tags,
contexts, exception messages and every frame's local variables — and replaces

- the value of any key that names a card field or a secret (card number, CVC/CVV, expiry,
  password, token, secret, API key, authorization, cookie, session, bank account number...);
- inside any string: a run of 13 to 19 digits (spaces or dashes between them allowed) that passes
  the Luhn check, Stripe secret keys (``sk_``/``rk_``/``whsec_``), ``Bearer``/``Basic``
  credentials, and ``name=value`` / ``'name': 'value'`` pairs whose name is one of the above
  (a raw form body, a query string, the repr of a QueryDict).

No ``send_default_pii`` (off by default) keeps Sentry from adding cookies, users' addresses and the like in the
first place; the scrubber is what holds even when a card number reaches a variable or a message.
"""

from __future__ import annotations

import re
from typing import Any

from core.luhn import luhn_valid

FILTERED = "[Filtered]"

_SENSITIVE_KEY = re.compile(
    r"card.?(number|num|no)|(^|[^a-z])pan$|cvc|cvv|cvn|security.?code"
    r"|(^|[^a-z])exp(iry|iration)?([^a-z]|$)|exp.?(month|year|date)"
    r"|passw|passwd|pwd|secret|token|api.?key|apikey|authorization|cookie|session|csrf"
    r"|signature|account.?number|iban|private.?key|credential",
    re.IGNORECASE,
)
_DIGIT_RUN = re.compile(r"(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])")
_SECRET_VALUE = re.compile(
    r"\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{8,}|\bwhsec_[0-9A-Za-z]{8,}"
    r"|\b(?:Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,}",
    re.IGNORECASE,
)
_PAIR = re.compile(
    r"((?:card.?(?:number|num|no)|cvc2?|cvv2?|cvn|security.?code|exp.?(?:month|year)|passw\w*|secret|token"
    r"|api.?key|authorization|cookie|sessionid|account.?number)[\w-]*['\"]?\s*[:=]\s*[\[(]?\s*['\"]?)"
    r"([^&\s'\",;})\]]+)",
    re.IGNORECASE,
)
# Keys whose string values are source code or file names (a frame's context lines): only card
# numbers and secret values are taken out of them, not name=value pairs.
_CODE_KEYS = frozenset({"pre_context", "context_line", "post_context", "filename", "abs_path", "module", "function"})
# Structural keys of the event whose names look sensitive but hold none of it.
_SAFE_KEYS = frozenset({"sdk", "modules"})


def _card_number(match: re.Match) -> str:
    digits = re.sub(r"[ -]", "", match.group(0))
    return FILTERED if 13 <= len(digits) <= 19 and luhn_valid(digits) else match.group(0)


def scrub_string(value: str, *, code: bool = False) -> str:
    value = _DIGIT_RUN.sub(_card_number, value)
    value = _SECRET_VALUE.sub(FILTERED, value)
    if not code:
        value = _PAIR.sub(lambda m: m.group(1) + FILTERED, value)
    return value


def key_is_sensitive(key: Any) -> bool:
    return isinstance(key, str) and bool(_SENSITIVE_KEY.search(key))


def scrub(value: Any, key: Any = None) -> Any:
    """``value`` with every card field and secret replaced (a new object; ``value`` is not changed)."""
    if key in _SAFE_KEYS:
        return value
    if key_is_sensitive(key) and value not in (None, "", [], {}):
        return FILTERED
    if isinstance(value, dict):
        return {k: scrub(v, k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        # A list of [name, value] pairs (headers, form data as pairs): the name decides.
        if len(value) == 2 and key_is_sensitive(value[0]):
            return [value[0], FILTERED]
        return [scrub(item, key) for item in value]
    if isinstance(value, str):
        return scrub_string(value, code=key in _CODE_KEYS)
    if isinstance(value, bytes):
        return scrub_string(value.decode("utf-8", "replace"))
    return value


def scrub_event(event: dict, hint: dict | None = None) -> dict:
    """``before_send``: the event without card data or secrets."""
    return scrub(event)


def scrub_breadcrumb(crumb: dict, hint: dict | None = None) -> dict:
    return scrub(crumb)


_initialised: tuple | None = None


def sentry_init(
    *, dsn: str, environment: str = "", release: str = "", traces_sample_rate: float = 0.0, transport=None
) -> bool:
    """Start reporting to Sentry when ``dsn`` is set; True if a client is active afterwards.

    Called again with the same settings it does nothing (settings.py may be imported more than
    once, e.g. by a management command that spawns). ``transport`` is for tests (a capturing one).
    """
    global _initialised
    if not dsn:
        return False
    key = (dsn, environment, release, traces_sample_rate, transport)
    if _initialised == key:
        return True

    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration

    options: dict[str, Any] = {
        "dsn": dsn,
        "environment": environment or None,
        "release": release or None,
        # No personal data added by the SDK (users' addresses, cookies, user ids): sentry-sdk 2.75
        # deprecates passing send_default_pii=False, and leaving it unset is that same default
        # (tests/billing_centre/test_observability_sentry.py asserts should_send_default_pii() is off).
        "traces_sample_rate": traces_sample_rate,
        "before_send": scrub_event,
        "before_send_transaction": scrub_event,
        "before_breadcrumb": scrub_breadcrumb,
        "integrations": [
            DjangoIntegration(),
            CeleryIntegration(),
            # Log records of WARNING and up become breadcrumbs, ERROR and up (logger.exception in
            # the sweeps and jobs) become events.
            LoggingIntegration(level=20, event_level=40),
        ],
    }
    if transport is not None:
        options["transport"] = transport
    sentry_sdk.init(**options)
    _initialised = key
    return True
