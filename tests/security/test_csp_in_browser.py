"""The Content-Security-Policy as Chromium enforces it: no page of the portal or of the Django
admin has a script or style the policy blocks (the browser reports each block on the console)."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.security.world import build_side

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _simulated_gateway(settings):
    settings.PAYMENT_GATEWAY = "simulated"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def _blocked(browser, live_server, user, paths) -> list[str]:
    client = Client()
    client.force_login(user)
    context = browser.new_context()
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
    page = context.new_page()
    page.set_default_timeout(15_000)
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda error: messages.append(f"script error: {error}"))
    blocked: list[str] = []
    try:
        for path in paths:
            response = page.goto(live_server.url + path)
            page.wait_for_load_state("load")
            assert response.status == 200, (path, response.status)
            assert page.url == live_server.url + path, (path, page.url)  # not the log-in page
            assert response.headers.get("content-security-policy"), path
            blocked += [f"{path}: {text}" for text in messages]
            messages.clear()
        # The listener does see a block: a style attribute set by script is refused, and the
        # browser's report of it reaches the console (waited for, up to the page's timeout).
        with page.expect_console_message(lambda m: "Content Security Policy" in m.text) as report:
            page.evaluate(
                "() => { const p = document.createElement('p'); p.innerHTML = '<b style=\\'color:red\\'>x</b>'; document.body.append(p); }"
            )
        assert "style" in report.value.text, report.value.text
        assert report.value.text in messages, messages
    finally:
        context.close()
    return blocked


def test_the_django_admin_works_under_the_policy(browser, live_server):
    from tests.accounts.factories import UserFactory

    side = build_side("A", full_staff=False)
    staff = UserFactory(username="csp_staff", is_staff=True, is_superuser=True)
    paths = [
        "/admin/",
        "/admin/invoices/invoice/",
        f"/admin/invoices/invoice/{side.invoice.pk}/change/",
        "/admin/disputes/dispute/",
        f"/admin/disputes/dispute/{side.dispute.pk}/change/",
        "/admin/payments/payment/",
        f"/admin/payments/payment/{side.payment.pk}/change/",
        "/admin/accounts/user/add/",
        "/admin/accounts/auditevent/",
    ]
    assert not _blocked(browser, live_server, staff, paths)


def test_portal_pages_with_scripts_work_under_the_policy(browser, live_server):
    side = build_side("A", full_staff=False)
    paths = [
        "/",
        f"/invoices/accounts/?q={side.invoice.number}",
        f"/invoices/{side.invoice.number}/",
        f"/payments/pay/?invoice={side.invoice.number}",
        "/payments/wallet/",
        "/payments/autopay/",
        f"/disputes/new/?invoice={side.plan_invoice.number}",
        f"/disputes/{side.dispute.reference}/",
        "/help/",
        "/manage/users/add/",
        "/manage/accounts/",
    ]
    assert not _blocked(browser, live_server, side.users["administrator"], paths)
