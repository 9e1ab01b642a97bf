"""A person enrols with an invoice and then adds a user, in Debian's Chromium (R25, R29)."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import InvoiceDelivery, Membership, Role, ShippingAccount
from tests.accounts.factories import ShippingAccountFactory, UserFactory
from tests.invoices.factories import InvoiceFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_enrol_with_an_invoice_then_add_a_user(page, live_server, browser_login):
    owner = UserFactory(username="hanbit", email="hanbit@example.com")
    colleague = UserFactory(username="colleague", email="colleague@example.com")
    account = ShippingAccountFactory(
        number="7K3X9A", name="한빛물산", company=None, invoice_delivery=InvoiceDelivery.PAPER
    )
    invoice = InvoiceFactory(
        number="INV-2026-0001",
        control_id="QW12ER",
        account=account,
        invoice_date=timezone.localdate() - datetime.timedelta(days=3),
        total=Decimal("1234000"),
    )

    browser_login(owner)
    page.goto(f"{live_server.url}/enroll/")
    page.fill("input[name=number]", "7k3-x9a")
    page.fill("input[name=invoice_number]", invoice.number)
    page.fill("input[name=invoice_date]", invoice.invoice_date.isoformat())
    page.fill("input[name=amount]", "₩1,234,000")
    page.fill("input[name=control_id]", "qw12er")
    page.click("form[action='/enroll/'] button[type=submit]")
    page.wait_for_load_state()

    assert page.url.rstrip("/") == live_server.url
    assert "7K3X9A" in page.locator(".messages").inner_text()
    account = ShippingAccount.objects.get(pk=account.pk)
    assert account.company is not None
    assert account.invoice_delivery == InvoiceDelivery.PAPERLESS

    page.goto(f"{live_server.url}/manage/users/")
    page.click("a[href^='/manage/users/add/']")
    page.fill("input[name=username]", "colleague")
    page.fill("input[name=email]", "colleague@example.com")
    page.check("input[name=role][value=viewer]")
    page.check(f"input[name=accounts][value='{account.pk}']")
    page.click("form.acct-scope-form button[type=submit]")
    page.wait_for_load_state()

    assert "/manage/users/" in page.url
    assert page.locator("tr[data-user=colleague]").count() == 1
    membership = Membership.objects.get(user=colleague)
    assert membership.role == Role.VIEWER
    assert list(membership.accounts.all()) == [account]


def test_scope_choice_hides_for_administrator_role(page, live_server, browser_login):
    from tests.accounts.factories import MembershipFactory

    admin = MembershipFactory(role=Role.ADMINISTRATOR).user
    ShippingAccountFactory(company=admin.memberships.get().company)
    browser_login(admin)
    page.goto(f"{live_server.url}/manage/users/add/")
    page.check("input[name=role][value=viewer]")
    assert page.locator("[data-scope]").is_visible()
    page.check("input[name=role][value=administrator]")
    assert not page.locator("[data-scope]").is_visible()
