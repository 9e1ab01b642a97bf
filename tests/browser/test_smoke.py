"""Smoke test in a real browser: landing, log in through the form, dashboard, language switch."""

import datetime
from decimal import Decimal

import pytest

from accounts.models import Role
from tests.accounts.factories import CompanyFactory, MembershipFactory, ShippingAccountFactory, UserFactory
from tests.invoices.factories import InvoiceFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_landing_page_renders_in_chromium(page, live_server):
    page.goto(live_server.url + "/")

    assert page.title().endswith("Billing Centre")
    assert page.locator("html").get_attribute("lang") == "ko"
    assert page.locator("main a[href='/accounts/login/']").count() >= 1
    assert page.locator("main a[href='/pay-now/']").count() >= 1
    # Our own stylesheet is applied (header colour comes from app.css).
    background = page.eval_on_selector(".site-header", "e => getComputedStyle(e).backgroundColor")
    assert background == "rgb(27, 43, 68)"


def test_log_in_shows_the_dashboard_and_english_switch_works(browser_login, live_server):
    company = CompanyFactory()
    account = ShippingAccountFactory(company=company)
    user = UserFactory(username="smokeadmin")
    MembershipFactory(user=user, company=company, role=Role.ADMINISTRATOR)
    invoice = InvoiceFactory(
        account=account,
        invoice_date=datetime.date.today() - datetime.timedelta(days=3),
        total=Decimal("123000"),
    )

    page = browser_login(user)

    assert page.url == live_server.url + "/"
    assert page.locator(".stat-grid").count() == 1
    assert page.locator(f"a[href='/invoices/{invoice.number}/']").count() == 1
    assert page.locator("nav.side-nav a[aria-current='page']").get_attribute("href") == "/"
    assert page.locator("svg.chart__svg").count() == 1

    page.click(".lang-switch button[value='en']")
    page.wait_for_load_state()

    assert page.url == live_server.url + "/"
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("main h1").inner_text() == "Dashboard"
    assert page.locator("nav.side-nav").get_by_text("My Account Invoices").count() == 1
    assert page.locator(".lang-switch button[value='en']").get_attribute("aria-pressed") == "true"
