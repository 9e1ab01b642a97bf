"""Payments as a person clicks through them: a one-time payment and Pay Now, each with a double click on Pay."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Role
from invoices.models import InvoiceStatus
from payments.models import Payment, PaymentMethod, PaymentStatus
from tests.accounts.factories import CompanyFactory, MembershipFactory, ShippingAccountFactory
from tests.invoices.factories import InvoiceFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _simulated_gateway(settings):
    settings.PAYMENT_GATEWAY = "simulated"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def invoice():
    company = CompanyFactory(name="브라우저상사")
    account = ShippingAccountFactory(company=company, number="BRW001")
    today = timezone.localdate()
    return InvoiceFactory(
        account=account,
        number="INVBRW000001",
        total=Decimal("13000"),
        invoice_date=today,
        due_date=today + datetime.timedelta(days=20),
    )


def fill_card(page, prefix: str, number: str = "4242424242424242"):
    page.check(f"input[name='{prefix}kind'][value='credit_card']")
    page.fill(f"input[name='{prefix}holder_name']", "홍길동")
    page.fill(f"input[name='{prefix}card_number']", number)
    page.select_option(f"select[name='{prefix}exp_month']", "12")
    page.select_option(f"select[name='{prefix}exp_year']", str(timezone.localdate().year + 3))
    page.fill(f"input[name='{prefix}cvc']", "123")


def test_one_time_payment_with_a_new_card_and_a_double_click(page, live_server, browser_login, invoice):
    user = MembershipFactory(company=invoice.account.company, role=Role.ADMINISTRATOR).user
    browser_login(user)

    page.goto(f"{live_server.url}/payments/pay/")
    page.check(f"input[name='invoice'][value='{invoice.number}']")
    page.click("main form button[type=submit]")
    page.wait_for_url("**/payments/pay/?invoice=*")
    assert "₩13,000" in page.inner_text(".pay-total")
    # the card fields of the chosen type only
    assert page.is_visible("input[name='new-card_number']")
    assert not page.is_visible("input[name='new-account_number']")
    fill_card(page, "new-")
    page.check("input[name='save_to_wallet']")
    page.dblclick("[data-pay-button]")
    page.wait_for_url("**/payments/receipts/*/")

    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert page.inner_text("[data-payment-reference]") == payment.reference
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert PaymentMethod.objects.get().last4 == "4242"


def test_pay_now_from_start_to_receipt_with_a_double_click(page, live_server, invoice):
    page.goto(f"{live_server.url}/pay-now/")
    page.fill("input[name='account_number']", invoice.account.number)
    page.fill("input[name='invoice_number']", invoice.number)
    page.fill("input[name='amount']", "13,000")
    page.click("main form button[type=submit]")

    page.wait_for_selector("input[name='pm-card_number']")
    fill_card(page, "pm-")
    page.fill("input[name='pm-email']", "payer@example.com")
    page.click("button[value='details']")

    page.wait_for_selector("[data-pay-button]")
    assert "₩13,000" in page.inner_text(".pay-total")
    page.dblclick("[data-pay-button]")
    page.wait_for_selector("[data-payment-reference]")

    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert page.inner_text("[data-payment-reference]") == payment.reference
    assert not PaymentMethod.objects.exists()
    # Back after paying shows the receipt again, never a second charge
    page.go_back()
    page.wait_for_load_state()
    page.reload()
    assert page.inner_text("[data-payment-reference]") == payment.reference
    assert Payment.objects.count() == 1


def test_pay_now_refuses_a_temporary_number_with_the_contact(page, live_server):
    account = ShippingAccountFactory(company=None, number="1234567890", billing_contact_phone="02-5555-0101")
    today = timezone.localdate()
    InvoiceFactory(account=account, number="INVTMP000001", total=Decimal("5000"), invoice_date=today, due_date=today)

    page.goto(f"{live_server.url}/pay-now/")
    page.fill("input[name='account_number']", "1234567890")
    page.fill("input[name='invoice_number']", "INVTMP000001")
    page.fill("input[name='amount']", "5000")
    page.click("main form button[type=submit]")

    assert "02-5555-0101" in page.inner_text("[data-refusal='temporary']")


def test_double_click_without_javascript_still_charges_once(browser, live_server, invoice):
    """No script to block the second click: the server's session step and idempotency key do it."""
    context = browser.new_context(java_script_enabled=False, locale="ko-KR")
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(f"{live_server.url}/pay-now/")
        page.fill("input[name='account_number']", invoice.account.number)
        page.fill("input[name='invoice_number']", invoice.number)
        page.fill("input[name='amount']", "13000")
        page.click("main form button[type=submit]")
        page.wait_for_selector("input[name='pm-card_number']")
        fill_card(page, "pm-")
        page.click("button[value='details']")
        page.wait_for_selector("[data-pay-button]")

        page.dblclick("[data-pay-button]")
        page.wait_for_selector("[data-payment-reference]")

        assert Payment.objects.count() == 1
        assert page.inner_text("[data-payment-reference]") == Payment.objects.get().reference
    finally:
        context.close()


def test_one_time_payment_double_click_without_javascript_charges_once(browser, live_server, invoice):
    from tests.accounts.factories import PASSWORD

    user = MembershipFactory(company=invoice.account.company, role=Role.PAYER, accounts=[invoice.account]).user
    context = browser.new_context(java_script_enabled=False, locale="ko-KR")
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=login]", user.username)
        page.fill("input[name=password]", PASSWORD)
        page.click("main form button[type=submit]")
        page.wait_for_load_state()
        page.goto(f"{live_server.url}/payments/pay/?invoice={invoice.number}")
        fill_card(page, "new-")

        page.dblclick("[data-pay-button]")
        page.wait_for_selector("[data-payment-reference]")

        assert Payment.objects.count() == 1
        assert Payment.objects.get().status == PaymentStatus.SUCCEEDED
    finally:
        context.close()
