"""Accessibility checks: axe-core (installed by scripts/setup.sh with npm) run in Debian's
Chromium through Playwright, against the live server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

AXE = Path(__file__).parent / "vendor" / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE.exists():
        pytest.skip("axe-core is not installed (run scripts/setup.sh: npm ci in tests/a11y/vendor)")
    return AXE.read_text()


@pytest.fixture
def session_cookie(live_server):
    """Log a user in without the form: a session made by Django's test client, as a cookie."""
    from django.test import Client

    def _cookie(user) -> dict:
        client = Client()
        client.force_login(user)
        return {"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}

    return _cookie


@pytest.fixture(autouse=True)
def _allow_async_orm():
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
