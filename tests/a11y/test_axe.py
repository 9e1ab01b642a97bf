"""axe-core on every main page, in Korean and English: no serious or critical violations.

Each page is also checked for Content-Security-Policy violations reported by the browser (a
script or style the policy blocked would break the page silently).
"""

from __future__ import annotations

import pathlib
import re

import pytest

from tests.a11y.axe import axe_violations
from tests.security.world import build_side

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _simulated_gateway(settings):
    settings.PAYMENT_GATEWAY = "simulated"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def _logged_in_pages(side) -> list[str]:
    return [
        "/",
        "/invoices/accounts/",
        "/invoices/plans/",
        f"/invoices/{side.invoice.number}/",
        f"/invoices/{side.invoice.number}/print/",
        f"/payments/pay/?invoice={side.invoice.number}",
        "/payments/history/",
        f"/payments/receipts/{side.payment.reference}/",
        "/payments/wallet/",
        "/payments/wallet/?view=list",
        "/payments/wallet/add/",
        f"/payments/wallet/{side.method.pk}/edit/",
        "/payments/autopay/",
        f"/payments/autopay/new/?account={side.unassigned_account.number}",
        f"/payments/autopay/{side.schedule.pk}/edit/",
        "/profile/payment-options/",
        "/disputes/",
        f"/disputes/new/?invoice={side.plan_invoice.number}",
        f"/disputes/{side.dispute.reference}/",
        "/shipments/",
        "/help/",
        "/enroll/",
        "/manage/accounts/",
        "/manage/plans/",
        "/manage/users/",
        "/manage/users/add/",
        "/manage/activity/",
        "/accounts/2fa/",
        "/accounts/password/change/",
    ]


ANONYMOUS_PAGES = ["/", "/accounts/login/", "/accounts/signup/", "/accounts/password/reset/", "/pay-now/", "/help/"]


def _check(page, url, axe_source, csp_errors) -> list[str]:
    page.goto(url)
    page.wait_for_load_state("load")
    problems = axe_violations(page, axe_source)
    problems += [f"{url}: {message}" for message in csp_errors]
    csp_errors.clear()
    if problems:  # a screenshot of each page that fails, for the CI artefacts
        out = pathlib.Path("test-artifacts")
        out.mkdir(exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9]+", "-", url.split("//", 1)[-1].split("/", 1)[-1]).strip("-") or "home"
        page.screenshot(path=str(out / f"axe-{name}.png"), full_page=True)
    return problems


def _context(browser, language):
    context = browser.new_context(
        locale="ko-KR" if language == "ko" else "en-US", viewport={"width": 1280, "height": 900}
    )
    return context


def _watch_csp(page) -> list[str]:
    errors: list[str] = []
    page.on(
        "console",
        lambda message: errors.append(message.text) if "Content Security Policy" in message.text else None,
    )
    return errors


@pytest.mark.parametrize("language", ["ko", "en"])
def test_main_pages_have_no_serious_accessibility_violations(
    browser, live_server, axe_source, session_cookie, language
):
    side = build_side("A", full_staff=True)
    context = _context(browser, language)
    context.add_cookies(
        [
            session_cookie(side.users["administrator"]),
            {"name": "django_language", "value": language, "url": live_server.url},
        ]
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    csp_errors = _watch_csp(page)
    problems = []
    try:
        for path in _logged_in_pages(side):
            problems += _check(page, live_server.url + path, axe_source, csp_errors)
    finally:
        context.close()
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("language", ["ko", "en"])
def test_public_pages_and_pay_now_steps_have_no_serious_accessibility_violations(
    browser, live_server, axe_source, language
):
    side = build_side("A", full_staff=True)
    context = _context(browser, language)
    context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    page = context.new_page()
    page.set_default_timeout(15_000)
    csp_errors = _watch_csp(page)
    problems = []
    try:
        for path in ANONYMOUS_PAGES:
            problems += _check(page, live_server.url + path, axe_source, csp_errors)
        # Pay Now: a wrong lookup (errors shown), then the details step and its errors.
        page.goto(live_server.url + "/pay-now/")
        page.fill("input[name=account_number]", side.invoice.account.number)
        page.fill("input[name=invoice_number]", side.invoice.number)
        page.fill("input[name=amount]", "1")
        page.locator("main form button[type=submit]").first.click()
        page.wait_for_load_state("load")
        problems += axe_violations(page, axe_source)
        page.fill("input[name=amount]", "55000")
        page.locator("main form button[type=submit]").first.click()
        page.wait_for_load_state("load")
        problems += axe_violations(page, axe_source)
        page.locator("main form button[name=action][value=details]").click()  # empty details: errors
        page.wait_for_load_state("load")
        problems += axe_violations(page, axe_source)
        problems += csp_errors
    finally:
        context.close()
    assert not problems, "\n".join(problems)
