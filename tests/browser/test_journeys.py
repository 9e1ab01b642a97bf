"""Journeys not covered by the other browser tests: sign up with e-mail verification and MFA
(a TOTP code computed here, RFC 6238, with time left in its 30-second step), the dashboard,
sorting and searching the invoice table, editing a card's expiry in the wallet, managing users
(role change and removal), and switching the language back and forth."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import re
import struct
import time
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import Membership, Role
from payments.models import MethodKind, PaymentMethod
from tests.accounts.factories import CompanyFactory, MembershipFactory, ShippingAccountFactory, UserFactory
from tests.invoices.factories import InvoiceFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.PAYMENT_GATEWAY = "simulated"


def totp(secret: str, at: float | None = None) -> str:
    """RFC 6238 with SHA-1, 30-second steps and 6 digits, as authenticator apps compute it."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    counter = int((time.time() if at is None else at) // 30)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def fresh_totp(secret: str, *, margin: float = 5.0) -> str:
    """The code of the current 30-second step, with at least ``margin`` seconds of the step left
    to type and submit it.

    allauth accepts only the current step's code (tolerance 0). The live server answers from a
    thread of this process while Playwright drives the browser, so the clock is not frozen here
    as the in-process tests do (``frozen_clock``): near the end of a step, wait for the next one.
    """
    left = 30 - time.time() % 30
    if left < margin:
        time.sleep(left + 0.1)
    return totp(secret)


def _submit(page, selector="main form button[type=submit]"):
    with page.expect_navigation():
        page.click(selector)


def test_sign_up_verify_the_e_mail_enrol_totp_and_log_in_with_a_code(page, live_server):
    page.goto(f"{live_server.url}/accounts/signup/")
    page.fill("input[name=username]", "newshipper")
    page.fill("input[name=email]", "newshipper@example.com")
    page.fill("input[name=password1]", "a-long-enough-password-42")
    page.fill("input[name=password2]", "a-long-enough-password-42")
    _submit(page)

    # The verification mail's link confirms the address and logs the user in.
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", mail.outbox[-1].body).group(0)
    page.goto(live_server.url + link[link.index("/accounts/") :])
    _submit(page)
    assert page.url == live_server.url + "/"

    # MFA: re-enter the password if asked, then scan (read) the secret and type a code.
    page.goto(f"{live_server.url}/accounts/2fa/totp/activate/")
    if "reauthenticate" in page.url:
        page.fill("input[name=password]", "a-long-enough-password-42")
        _submit(page)
    assert page.locator("img[src^='data:image/svg+xml']").count() == 1  # the QR code (CSP img-src data:)
    secret = page.input_value("#authenticator_secret")
    page.fill("input[name=code]", fresh_totp(secret))
    _submit(page)
    assert "/accounts/2fa/" in page.url

    # Log out, log in again: a TOTP code is asked for after the password.
    page.goto(f"{live_server.url}/accounts/logout/")
    _submit(page)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", "newshipper")
    page.fill("input[name=password]", "a-long-enough-password-42")
    _submit(page)
    assert "/accounts/2fa/authenticate/" in page.url
    page.fill("input[name=code]", fresh_totp(secret))
    _submit(page)
    assert page.url == live_server.url + "/"


@pytest.fixture
def admin_world():
    company = CompanyFactory(name="여정상사")
    account = ShippingAccountFactory(company=company, number="JRN001")
    today = timezone.localdate()
    invoices = [
        InvoiceFactory(
            account=account,
            number=f"INVJRN00000{i}",
            total=Decimal(amount),
            invoice_date=today - datetime.timedelta(days=10 - i),
            due_date=today + datetime.timedelta(days=20 + i),
        )
        for i, amount in enumerate(["30000", "10000", "20000"], start=1)
    ]
    admin = UserFactory(username="journeyadmin")
    MembershipFactory(user=admin, company=company, role=Role.ADMINISTRATOR)
    return {"company": company, "account": account, "invoices": invoices, "admin": admin}


def test_dashboard_then_sort_and_search_the_invoice_table(page, live_server, browser_login, admin_world):
    browser_login(admin_world["admin"])
    assert page.locator(".stat-grid").count() == 1
    assert "₩60,000" in page.inner_text("main")  # the balance due of the three invoices

    page.goto(f"{live_server.url}/invoices/accounts/")
    header = page.locator("thead th", has=page.locator("a", has_text=re.compile("Amount|청구 금액|금액")))
    column = header.first
    with page.expect_navigation():
        column.locator("a").click()
    order = page.locator("tbody tr[data-invoice]").evaluate_all("rows => rows.map(r => r.dataset.invoice)")
    sort = page.locator("thead th[aria-sort='ascending'], thead th[aria-sort='descending']").first
    assert sort.count() == 1
    ascending = ["INVJRN000002", "INVJRN000003", "INVJRN000001"]
    assert order in (ascending, ascending[::-1])
    with page.expect_navigation():
        page.locator("thead th[aria-sort='ascending'] a, thead th[aria-sort='descending'] a").first.click()
    reversed_order = page.locator("tbody tr[data-invoice]").evaluate_all("rows => rows.map(r => r.dataset.invoice)")
    assert reversed_order == order[::-1]

    page.fill("input[name=q]", "INVJRN000003")
    with page.expect_navigation():
        page.locator("input[name=q]").press("Enter")
    rows = page.locator("tbody tr[data-invoice]").evaluate_all("rows => rows.map(r => r.dataset.invoice)")
    assert rows == ["INVJRN000003"]


def test_wallet_expiry_edit_from_the_grid(page, live_server, browser_login, admin_world):
    company = admin_world["company"]
    method = PaymentMethod.objects.create(
        company=company,
        kind=MethodKind.CREDIT_CARD,
        nickname="만료 카드",
        holder_name="홍길동",
        brand="visa",
        last4="4242",
        exp_month=1,
        exp_year=2020,
        gateway="simulated",
        gateway_token="tok_expired",
        is_default=True,
    )
    browser_login(admin_world["admin"])
    page.goto(f"{live_server.url}/payments/wallet/")
    with page.expect_navigation():
        page.click(f"a[href='/payments/wallet/{method.pk}/edit/']")
    next_year = str(timezone.localdate().year + 2)
    page.select_option("select[name=exp_month]", "9")
    page.select_option("select[name=exp_year]", next_year)
    _submit(page)

    assert page.url.startswith(f"{live_server.url}/payments/wallet/")
    method.refresh_from_db()
    assert (method.exp_month, method.exp_year) == (9, int(next_year))
    assert (
        f"09/{next_year[-2:]}" in page.inner_text("main")
        or f"9/{next_year}" in page.inner_text("main")
        or (next_year in page.inner_text("main"))
    )


def test_user_management_changes_a_role_and_removes_a_user(page, live_server, browser_login, admin_world):
    company, account = admin_world["company"], admin_world["account"]
    colleague = MembershipFactory(
        user=UserFactory(username="colleague"), company=company, role=Role.VIEWER, accounts=[account]
    )
    leaver = MembershipFactory(
        user=UserFactory(username="leaver"), company=company, role=Role.VIEWER, accounts=[account]
    )
    browser_login(admin_world["admin"])

    page.goto(f"{live_server.url}/manage/users/{colleague.pk}/edit/")
    page.check("input[name=role][value=payer]")
    _submit(page, "main form.acct-scope-form button[type=submit]")
    colleague.refresh_from_db()
    assert colleague.role == Role.PAYER

    page.goto(f"{live_server.url}/manage/users/{leaver.pk}/remove/")
    _submit(page, "main form button.btn-danger")
    assert not Membership.objects.filter(pk=leaver.pk).exists()
    members = page.locator("main table").first.inner_text()
    assert "leaver" not in members and "colleague" in members


def test_language_switch_goes_to_english_and_back_to_korean(page, live_server):
    page.goto(f"{live_server.url}/accounts/login/")
    assert page.get_attribute("html", "lang") == "ko"
    with page.expect_navigation():
        page.click("form.lang-switch button[value=en]")
    assert page.get_attribute("html", "lang") == "en"
    assert page.url.endswith("/accounts/login/")
    assert page.get_attribute("form.lang-switch button[value=en]", "aria-pressed") == "true"
    with page.expect_navigation():
        page.click("form.lang-switch button[value=ko]")
    assert page.get_attribute("html", "lang") == "ko"
