"""Security headers on every page, a Content-Security-Policy without 'unsafe-inline', templates
without inline script or style, and CSRF on every state-changing request."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client

from tests.security.urlmap import fill, url_patterns

BASE_DIR = Path(__file__).resolve().parents[2]
PAGES = ["/", "/accounts/login/", "/accounts/signup/", "/pay-now/", "/help/", "/shipments/"]


def _policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


@pytest.mark.django_db
@pytest.mark.parametrize("url", PAGES)
def test_pages_send_a_strict_content_security_policy(client, url):
    response = client.get(url)
    policy = _policy(response)

    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]  # Stripe.js only when Stripe is configured
    assert policy["style-src"] == ["'self'"]
    assert policy["img-src"] == ["'self'", "data:"]  # the TOTP QR code is a data: image
    assert policy["form-action"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]


@pytest.mark.django_db
def test_pages_send_the_other_security_headers(client):
    response = client.get("/accounts/login/")

    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_stripe_js_is_allowed_only_when_stripe_is_configured():
    """Settings are read once per process: import them in a subprocess with and without a key."""
    import json
    import os
    import subprocess
    import sys

    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps(s.CONTENT_SECURITY_POLICY['DIRECTIVES']))"
    )

    def directives(**env):
        result = subprocess.run(
            [sys.executable, "-c", code],
            cwd=BASE_DIR,
            env={"PATH": os.environ.get("PATH", ""), "DJANGO_SETTINGS_MODULE": "billing_centre.settings", **env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout.strip().splitlines()[-1])

    without = directives(STRIPE_SECRET_KEY="")
    with_stripe = directives(STRIPE_SECRET_KEY="sk_test_123")
    assert "https://js.stripe.com" not in without["script-src"]
    assert with_stripe["script-src"] == ["'self'", "https://js.stripe.com"]
    assert with_stripe["frame-src"] == ["https://js.stripe.com"]
    assert "'unsafe-inline'" not in json.dumps(with_stripe)


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"<style\b", re.I), "<style> element"),
    (re.compile(r"\sstyle\s*=", re.I), "style= attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "on*= event handler"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
]


def _served_templates():
    """Every template rendered as an HTML page (PDF and e-mail templates are not served)."""
    for folder in [BASE_DIR / "templates", *(BASE_DIR / app / "templates" for app in ("accounts", "invoices"))]:
        if not folder.exists():
            continue
        for path in folder.rglob("*.html"):
            parts = set(path.relative_to(folder).parts)
            if parts & {"pdf", "email"}:
                continue
            yield path


def test_no_served_template_has_inline_script_or_style():
    problems = []
    for path in _served_templates():
        text = path.read_text()
        for pattern, what in INLINE:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                problems.append(f"{path.relative_to(BASE_DIR)}:{line}: {what}")
    assert not problems, "\n".join(problems)


def test_the_print_ready_invoice_page_includes_its_document_without_inline_style():
    """invoice_print.html is HTML served to browsers and includes the PDF document partial."""
    document = BASE_DIR / "templates" / "invoices" / "pdf" / "_document.html"
    text = document.read_text()
    for pattern, what in INLINE:
        assert not pattern.search(text), f"{document}: {what}"


# --- CSRF ---------------------------------------------------------------------------------------

# Views that take POSTs without a CSRF token on purpose, each with its own protection.
CSRF_EXEMPT = {
    "payments:webhook_stripe": "Stripe signs each webhook; the signature is verified instead",
}


@pytest.mark.django_db
def test_every_post_without_a_csrf_token_is_refused(ours):
    client = Client(enforce_csrf_checks=True)
    client.force_login(ours.users["administrator"])
    problems = []
    for pattern in url_patterns():
        url = fill(pattern, ours)
        exempt = getattr(pattern.callback, "csrf_exempt", False)
        if exempt:
            if pattern.name not in CSRF_EXEMPT:
                problems.append(f"{url}: csrf_exempt without a reason in CSRF_EXEMPT")
            continue
        response = client.post(url, {"anything": "1"})
        if response.status_code != 403:
            problems.append(f"{url}: {response.status_code}")
    assert not problems, "\n".join(problems)


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/accounts/login/", "/accounts/signup/", "/pay-now/", "/i18n/setlang/"])
def test_anonymous_posts_without_a_csrf_token_are_refused(url):
    client = Client(enforce_csrf_checks=True)
    response = client.post(url, {"login": "x", "password": "y", "language": "en"})
    assert response.status_code == 403


@pytest.mark.django_db
def test_a_post_with_the_csrf_token_passes_the_check(ours, settings):
    client = Client(enforce_csrf_checks=True)
    client.get("/accounts/login/")
    token = client.cookies["csrftoken"].value
    response = client.post("/i18n/setlang/", {"language": "en", "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"  # the POST did its work
