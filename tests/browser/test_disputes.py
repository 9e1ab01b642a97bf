"""Disputes in a real browser: file a dispute with an attachment, then see it marked everywhere."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from accounts.models import Role
from disputes.models import Dispute
from invoices.models import LineKind
from tests.accounts.factories import CompanyFactory, MembershipFactory, ShippingAccountFactory, UserFactory
from tests.invoices.factories import InvoiceFactory, InvoiceLineFactory, ShipmentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


def test_payer_files_a_dispute_and_sees_the_disputed_marker(browser_login, live_server, tmp_path):
    company = CompanyFactory()
    account = ShippingAccountFactory(company=company, number="B2C3D4")
    invoice = InvoiceFactory(
        account=account,
        number="INV000000777",
        invoice_date=datetime.date.today() - datetime.timedelta(days=5),
        total=Decimal("35000"),
    )
    shipment = ShipmentFactory(account=account, tracking_number="1Z0000000000000777")
    freight = InvoiceLineFactory(
        invoice=invoice, kind=LineKind.SHIPMENT, description="운송 요금", amount=Decimal("30000"), shipment=shipment
    )
    InvoiceLineFactory(invoice=invoice, kind=LineKind.SURCHARGE, description="유류 할증료", amount=Decimal("5000"))
    user = UserFactory(username="browserpayer")
    MembershipFactory(user=user, company=company, role=Role.PAYER, accounts=[account])
    evidence = tmp_path / "weight.pdf"
    evidence.write_bytes(PDF)

    page = browser_login(user)
    page.goto(f"{live_server.url}/disputes/new/?invoice={invoice.number}")
    page.check(f"#id_line_{freight.id}")
    # The script fills in the whole charge; the customer disputes part of it.
    assert page.input_value(f"#id_line_{freight.id}_amount") == "30000"
    page.fill(f"#id_line_{freight.id}_amount", "12000")
    page.select_option(f"#id_line_{freight.id}_reason", "weight")
    page.fill("#id_comment", "실제 무게는 1kg입니다.")
    page.set_input_files("#id_attachments", str(evidence))
    page.click("form[data-dispute-form] button[type=submit]")
    page.wait_for_load_state()

    dispute = Dispute.objects.get()
    assert page.url.startswith(f"{live_server.url}/disputes/{dispute.reference}/")
    assert dispute.reference in page.locator("main h1").inner_text()
    assert "₩23,000" in page.locator(".dispute-due").inner_text()  # 35,000 - 12,000 still due
    assert page.locator(".dispute-timeline__step.is-current").count() == 1
    assert page.locator(".dispute-attachments a").inner_text() == "weight.pdf"

    page.goto(f"{live_server.url}/invoices/accounts/")
    row = page.locator("tr", has_text=invoice.number)
    assert row.locator(".badge-disputed").count() == 1

    page.goto(f"{live_server.url}/disputes/")
    assert page.locator("table", has_text=dispute.reference).count() == 1


def test_help_center_search_finds_a_topic(page, live_server):
    page.goto(f"{live_server.url}/help/")
    page.fill("input[name=q]", "자동 결제")
    page.click("form.help-search button[type=submit]")
    page.wait_for_load_state()

    assert page.locator("details#autopay").count() == 1
    assert page.locator("details#autopay").get_attribute("open") is not None
    assert "080-687-6886" in page.locator("#contact").locator("xpath=..").inner_text()
