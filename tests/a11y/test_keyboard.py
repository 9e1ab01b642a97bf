"""Pay Now and the one-time payment completed with the keyboard alone (Tab, typing, Space,
End, Enter), in a 640-pixel-wide window at device scale 2 (a 1280-pixel screen at 200% zoom):
errors are announced by a focused error summary (role="alert") and each field is linked to
its message (aria-invalid, aria-describedby); the main content never scrolls sideways."""

from __future__ import annotations

import datetime
import pathlib
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Role
from payments.models import Payment, PaymentStatus
from tests.accounts.factories import CompanyFactory, MembershipFactory, ShippingAccountFactory
from tests.invoices.factories import InvoiceFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ZOOM_200 = {"viewport": {"width": 640, "height": 900}, "device_scale_factor": 2}


@pytest.fixture(autouse=True)
def _simulated_gateway(settings):
    settings.PAYMENT_GATEWAY = "simulated"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def invoice():
    company = CompanyFactory(name="키보드상사")
    account = ShippingAccountFactory(company=company, number="KBD001")
    today = timezone.localdate()
    return InvoiceFactory(
        account=account,
        number="INVKBD000001",
        total=Decimal("13000"),
        invoice_date=today,
        due_date=today + datetime.timedelta(days=20),
    )


@pytest.fixture
def zoomed(browser, request):
    """Pages at 200% zoom; each is saved as a screenshot in test-artifacts/ when the test fails."""
    contexts = []

    def _page(cookies=()):
        context = browser.new_context(locale="en-US", **ZOOM_200)
        if cookies:
            context.add_cookies(list(cookies))
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield _page
    report = getattr(request.node, "rep_call", None)
    for number, context in enumerate(contexts):
        if report is not None and report.failed:
            out = pathlib.Path("test-artifacts")
            out.mkdir(exist_ok=True)
            for page in context.pages:
                page.screenshot(path=str(out / f"{request.node.name}-{number}.png"), full_page=True)
        context.close()


def tab_to(page, selector: str, limit: int = 120) -> None:
    """Press Tab until the focused element matches ``selector``."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => !!document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def type_into(page, selector: str, text: str) -> None:
    tab_to(page, selector)
    page.keyboard.press("Control+A")
    page.keyboard.type(text)


def press_enter_and_load(page) -> None:
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_load_state("load")


def no_sideways_scroll(page) -> None:
    overflow = page.evaluate(
        "() => { const main = document.querySelector('main') || document.body;"
        " return [document.documentElement.scrollWidth, window.innerWidth, main.scrollWidth, main.clientWidth]; }"
    )
    page_width, window_width, main_scroll, main_client = overflow
    assert page_width <= window_width, f"{page.url}: the page scrolls sideways ({page_width} > {window_width})"
    assert main_scroll <= main_client + 1, f"{page.url}: the main content scrolls sideways"


def errors_are_announced(page, field_selector: str) -> None:
    """The error summary has the focus and role=alert; the field points at its own message."""
    summary = page.evaluate(
        "() => { const a = document.activeElement; return a ? [a.getAttribute('role'), a.innerText] : null; }"
    )
    assert summary and summary[0] == "alert", f"focus is not on an alert: {summary}"
    field = page.locator(field_selector)
    assert field.get_attribute("aria-invalid") == "true"
    described = field.get_attribute("aria-describedby") or ""
    messages = [page.locator(f"#{ident}").inner_text() for ident in described.split() if ident.endswith("_error")]
    assert messages and all(messages), f"{field_selector} is not linked to its error message"


def fill_card_by_keyboard(page, prefix: str) -> None:
    tab_to(page, f"input[name='{prefix}kind'][value='credit_card']")
    page.keyboard.press("Space")
    type_into(page, f"input[name='{prefix}holder_name']", "Hong Gildong")
    type_into(page, f"input[name='{prefix}card_number']", "4242 4242 4242 4242")
    tab_to(page, f"select[name='{prefix}exp_month']")
    page.keyboard.press("End")  # December
    tab_to(page, f"select[name='{prefix}exp_year']")
    page.keyboard.press("End")  # the last year offered
    type_into(page, f"input[name='{prefix}cvc']", "123")


def test_pay_now_with_the_keyboard_alone_at_200_percent_zoom(live_server, zoomed, invoice):
    page = zoomed()
    page.goto(f"{live_server.url}/pay-now/")
    no_sideways_scroll(page)

    # Submitting the empty lookup form: the summary is announced, the fields point at their messages.
    tab_to(page, "input[name='account_number']")
    press_enter_and_load(page)
    errors_are_announced(page, "input[name='account_number']")
    no_sideways_scroll(page)

    type_into(page, "input[name='account_number']", invoice.account.number)
    type_into(page, "input[name='invoice_number']", invoice.number)
    type_into(page, "input[name='amount']", "13,000")
    press_enter_and_load(page)
    page.wait_for_selector("input[name='pm-card_number']")
    no_sideways_scroll(page)

    # Payment details left empty: announced the same way.
    tab_to(page, "input[name='pm-email']")
    press_enter_and_load(page)
    errors_are_announced(page, "input[name='pm-card_number']")

    fill_card_by_keyboard(page, "pm-")
    type_into(page, "input[name='pm-email']", "payer@example.com")
    press_enter_and_load(page)
    page.wait_for_selector("[data-pay-button]")
    no_sideways_scroll(page)

    tab_to(page, "[data-pay-button]")
    press_enter_and_load(page)
    page.wait_for_selector("[data-payment-reference]")
    no_sideways_scroll(page)
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert page.inner_text("[data-payment-reference]") == payment.reference


def test_one_time_payment_with_the_keyboard_alone_at_200_percent_zoom(live_server, zoomed, invoice):
    user = MembershipFactory(company=invoice.account.company, role=Role.PAYER, accounts=[invoice.account]).user
    client = Client()
    client.force_login(user)
    page = zoomed([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
    page.goto(f"{live_server.url}/payments/pay/")
    no_sideways_scroll(page)

    tab_to(page, f"input[name='invoice'][value='{invoice.number}']")
    page.keyboard.press("Space")
    tab_to(page, "main form button[type=submit]")
    press_enter_and_load(page)
    page.wait_for_selector("[data-pay-button]")
    no_sideways_scroll(page)

    # Pay with the new-card fields empty: the errors are announced and linked.
    tab_to(page, "[data-pay-button]")
    press_enter_and_load(page)
    page.wait_for_selector("[data-pay-button]")
    errors_are_announced(page, "input[name='new-card_number']")
    no_sideways_scroll(page)

    fill_card_by_keyboard(page, "new-")
    tab_to(page, "[data-pay-button]")
    press_enter_and_load(page)
    page.wait_for_selector("[data-payment-reference]")
    no_sideways_scroll(page)
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.SUCCEEDED
