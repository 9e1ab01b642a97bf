"""My AutoPay as a person clicks through it: set up with consent, see the preview, pause; Korean and English."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Role
from payments.models import AutoPaySchedule
from tests.accounts.factories import CompanyFactory, MembershipFactory, ShippingAccountFactory
from tests.invoices.factories import InvoiceFactory
from tests.payments.conftest import card_method

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _simulated_gateway(settings):
    settings.PAYMENT_GATEWAY = "simulated"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def setup():
    company = CompanyFactory(name="자동결제상사")
    account = ShippingAccountFactory(company=company, number="AUT001")
    card = card_method(company, nickname="법인카드")
    user = MembershipFactory(company=company, role=Role.ADMINISTRATOR).user
    return user, account, card


def test_an_administrator_sets_up_autopay_in_the_browser(page, live_server, browser_login, setup):
    user, account, card = setup
    browser_login(user)

    page.goto(f"{live_server.url}/payments/autopay/")
    assert page.locator("html").get_attribute("lang") == "ko"
    page.click(f"[data-autopay-setup='{account.number}']")
    page.wait_for_url("**/payments/autopay/new/?account=AUT001")
    page.check(f"input[name='method'][value='{card.id}']")
    page.check("input[name='amount_mode'][value='up_to_limit']")
    page.fill("input[name='limit_amount']", "500000")
    page.check("input[name='timing'][value='days_before_due']")
    page.fill("input[name='days_before_due']", "2")
    # Without consent the form comes back with the reason next to the box.
    page.click("main form button[type=submit]")
    assert page.locator(".field-error input[name='consent']").count() == 1
    assert not AutoPaySchedule.objects.exists()

    page.check("input[name='consent']")
    page.click("main form button[type=submit]")
    page.wait_for_url("**/payments/autopay/")

    schedule = AutoPaySchedule.objects.get(account=account)
    assert schedule.limit_amount == Decimal("500000")
    assert schedule.days_before_due == 2
    assert schedule.consent_at is not None
    section = page.locator(f"[data-autopay-schedule='{schedule.id}']")
    assert section.is_visible()
    assert "₩500,000" in section.inner_text()

    # A new invoice shows in the preview with its run date two days before it is due.
    today = timezone.localdate()
    InvoiceFactory(
        account=account,
        number="AUTINV000001",
        total=Decimal("42000"),
        invoice_date=today,
        due_date=today + datetime.timedelta(days=10),
    )
    page.reload()
    row = page.locator("[data-invoice='AUTINV000001']")
    assert row.get_attribute("data-action") == "pay"
    assert (today + datetime.timedelta(days=8)).isoformat() in row.inner_text()

    # In English, then paused.
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": live_server.url}])
    page.reload()
    assert page.locator("html").get_attribute("lang") == "en"
    assert "My AutoPay" in page.inner_text("h1")
    section.locator("form[action$='/pause/'] button").click()
    page.wait_for_load_state()
    schedule.refresh_from_db()
    assert schedule.status == AutoPaySchedule.Status.PAUSED
    assert page.locator(f"[data-autopay-schedule='{schedule.id}'] [data-status='paused']").count() == 1
