"""axe-core on every main page, in Korean and English: no serious or critical violations.

Each page is audited only once the browser shows it: the answer is 200 at the address asked for
(no redirect to the log-in page) and the page's own heading (h1) is there, in that language.

Each page is also checked for Content-Security-Policy violations reported by the browser (a
script or style the policy blocked would break the page silently).
"""

from __future__ import annotations

import pathlib
import re
from dataclasses import dataclass

import pytest
from django.utils import translation

from tests.a11y.axe import axe_violations
from tests.security.world import build_side

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _simulated_gateway(settings):
    settings.PAYMENT_GATEWAY = "simulated"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@dataclass(frozen=True)
class Page:
    """A page to audit and the heading (its h1) that proves the browser shows that page: a
    broken session would land every logged-in path on the log-in page, and auditing that page
    38 times would pass."""

    path: str
    heading: str = ""  # msgid of the h1, compared translated into the page's language
    heading_has: str = ""  # or: what the h1 of an object's page carries (its number, its reference)

    def expected(self, language: str) -> str:
        if self.heading_has:
            return self.heading_has
        with translation.override(language):
            return translation.gettext(self.heading)

    def shows(self, heading: str, language: str) -> bool:
        if self.heading_has:
            return self.heading_has in heading
        return heading == self.expected(language)


def _logged_in_pages(side) -> list[Page]:
    return [
        Page("/", "Dashboard"),
        Page("/invoices/accounts/", "My Account Invoices"),
        Page("/invoices/plans/", "My Plan Invoices"),
        Page(f"/invoices/{side.invoice.number}/", heading_has=side.invoice.number),
        Page(f"/invoices/{side.invoice.number}/print/", "Invoice"),
        Page(f"/payments/pay/?invoice={side.invoice.number}", "Review payment"),
        Page("/payments/history/", "Payment history"),
        Page(f"/payments/receipts/{side.payment.reference}/", "Thank you: the payment is complete"),
        Page("/payments/wallet/", "Wallet"),
        Page("/payments/wallet/?view=list", "Wallet"),
        Page("/payments/wallet/add/", "Add a payment method"),
        Page(f"/payments/wallet/{side.method.pk}/edit/", "Edit payment method"),
        Page("/payments/autopay/", "My AutoPay"),
        Page(f"/payments/autopay/new/?account={side.unassigned_account.number}", "Set up AutoPay"),
        Page(f"/payments/autopay/{side.schedule.pk}/edit/", "Edit AutoPay"),
        Page("/profile/payment-options/", "Accounts and payment options"),
        Page("/disputes/", "Disputes"),
        Page(f"/disputes/new/?invoice={side.plan_invoice.number}", "Dispute charges"),
        Page(f"/disputes/{side.dispute.reference}/", heading_has=side.dispute.reference),
        Page("/shipments/", "Shipping history"),
        Page("/help/", "Help & Support Center"),
        Page("/enroll/", "Enrol in Billing Centre"),
        Page("/manage/accounts/", "My Accounts"),
        Page("/manage/plans/", "My Plans"),
        Page("/manage/users/", "User management"),
        Page("/manage/users/add/", "Add user"),
        Page("/manage/activity/", "Activity"),
        Page("/accounts/2fa/", "Two-Factor Authentication"),
        Page("/accounts/password/change/", "Change Password"),
    ]


ANONYMOUS_PAGES = [
    Page("/", "Your invoices, payments and shipping history in one place"),
    Page("/accounts/login/", "Sign In"),
    Page("/accounts/signup/", "Sign Up"),
    Page("/accounts/password/reset/", "Password Reset"),
    Page("/pay-now/", "Find your invoice"),
    Page("/help/", "Help & Support Center"),
]


def _heading(page) -> str:
    headings = page.locator("h1")
    return " ".join(headings.first.inner_text().split()) if headings.count() else "(no h1)"


def _not_shown(page, expected: Page, language: str) -> list[str]:
    """Why the browser does not show the page asked for (empty when it does)."""
    heading = _heading(page)
    if expected.shows(heading, language):
        return []
    return [f"{page.url}: the h1 is {heading!r}, not {expected.expected(language)!r}"]


def _check(page, base_url, expected: Page, language, axe_source, csp_errors) -> list[str]:
    url = base_url + expected.path
    response = page.goto(url)
    page.wait_for_load_state("load")
    status = response.status if response is not None else None
    if status != 200 or page.url != url:
        # Not the page asked for (an error, or a redirect to the log-in page): nothing to audit.
        csp_errors.clear()
        return [f"{url}: answered {status} at {page.url}, not 200 at the address asked for"]
    problems = _not_shown(page, expected, language)
    if problems:
        csp_errors.clear()
        return problems
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
        for expected in _logged_in_pages(side):
            problems += _check(page, live_server.url, expected, language, axe_source, csp_errors)
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
        for expected in ANONYMOUS_PAGES:
            problems += _check(page, live_server.url, expected, language, axe_source, csp_errors)
        # Pay Now: a wrong lookup (errors shown), then the details step and its errors.
        page.goto(live_server.url + "/pay-now/")
        page.fill("input[name=account_number]", side.invoice.account.number)
        page.fill("input[name=invoice_number]", side.invoice.number)
        page.fill("input[name=amount]", "1")
        lookup, details = Page("/pay-now/", "Find your invoice"), Page("/pay-now/", "Payment details")
        with page.expect_navigation():
            page.locator("main form button[type=submit]").first.click()
        problems += _not_shown(page, lookup, language) or axe_violations(page, axe_source)
        page.fill("input[name=amount]", "55000")
        with page.expect_navigation():
            page.locator("main form button[type=submit]").first.click()
        problems += _not_shown(page, details, language) or axe_violations(page, axe_source)
        with page.expect_navigation():
            page.locator("main form button[name=action][value=details]").click()  # empty details: errors
        problems += _not_shown(page, details, language) or axe_violations(page, axe_source)
        problems += csp_errors
    finally:
        context.close()
    assert not problems, "\n".join(problems)
