"""Bulk download as a person does it: filter the table, tick invoices, download one ZIP."""

from __future__ import annotations

import io
import zipfile

import pytest

from accounts.models import Role
from tests.accounts.factories import CompanyFactory, MembershipFactory, ShippingAccountFactory
from tests.invoices.factories import InvoiceFactory, InvoiceLineFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def data():
    company = CompanyFactory()
    seoul = ShippingAccountFactory(company=company, name="서울 센터")
    busan = ShippingAccountFactory(company=company, name="부산 지점")
    user = MembershipFactory(company=company, role=Role.ADMINISTRATOR).user
    busan_invoices = []
    for index in range(3):
        InvoiceLineFactory(invoice=InvoiceFactory(account=seoul, number=f"SEOUL{index:07d}"))
        invoice = InvoiceFactory(account=busan, number=f"BUSAN{index:07d}")
        InvoiceLineFactory(invoice=invoice, description=f"부산 운송 {index}")
        busan_invoices.append(invoice)
    foreign = InvoiceFactory(number="FOREIGN00009")
    return {"user": user, "busan": busan, "busan_invoices": busan_invoices, "foreign": foreign}


def test_filter_select_and_download_a_zip_of_csv(page, live_server, browser_login, data):
    browser_login(data["user"])
    page.goto(f"{live_server.url}/invoices/accounts/")
    page.select_option("select[name=billable]", data["busan"].number)
    page.click("form[role=search] button[type=submit]")
    page.wait_for_url("**billable=*")
    rows = page.locator("tbody tr[data-invoice]")
    assert rows.count() == 3
    assert "SEOUL" not in page.locator("tbody").inner_text()

    # Tick two rows; the count updates.
    wanted = [data["busan_invoices"][0].number, data["busan_invoices"][2].number]
    for number in wanted:
        page.check(f"input[name=invoice][value='{number}']")
    assert "2" in page.locator("[data-selected-count]").inner_text()
    page.select_option("select[name=format]", "csv")
    with page.expect_download() as info:
        page.click("[data-download-selected]")
    download = info.value
    assert download.suggested_filename.endswith(".zip")
    archive = zipfile.ZipFile(io.BytesIO(open(download.path(), "rb").read()))
    assert archive.namelist() == ["invoices.csv"]
    text = archive.read("invoices.csv").decode("utf-8-sig")
    numbers = {line.split(",")[0] for line in text.splitlines()[1:]}
    assert numbers == set(wanted)


def test_select_page_checkbox_and_pdf_zip(page, live_server, browser_login, data):
    browser_login(data["user"])
    page.goto(f"{live_server.url}/invoices/accounts/?billable={data['busan'].number}&sort=number")
    page.check("[data-select-page]")
    assert page.locator("input[name=invoice]:checked").count() == 3
    # The Actions menu opens from the keyboard.
    page.locator("[data-actions-menu] summary").first.focus()
    page.keyboard.press("Enter")
    assert page.locator("[data-actions-menu][open]").count() == 1
    page.keyboard.press("Escape")
    assert page.locator("[data-actions-menu][open]").count() == 0

    with page.expect_download() as info:
        page.click("[data-download-selected]")
    archive = zipfile.ZipFile(info.value.path())
    assert sorted(archive.namelist()) == sorted(f"{i.number}.pdf" for i in data["busan_invoices"])
    assert all(archive.read(name).startswith(b"%PDF") for name in archive.namelist())


def test_selecting_all_matching_invoices_runs_a_job_with_a_download_link(page, live_server, browser_login, data):
    from invoices.services import BULK_SYNC_LIMIT

    for index in range(BULK_SYNC_LIMIT + 1):
        InvoiceFactory(account=data["busan"], number=f"BULK{index:08d}")
    browser_login(data["user"])
    page.goto(f"{live_server.url}/invoices/accounts/?billable={data['busan'].number}")
    page.check("[data-select-all-matching]")
    # The row check boxes step aside: the server recomputes the selection from the filter.
    assert page.locator("input[name=invoice]:disabled").count() == page.locator("input[name=invoice]").count()
    page.select_option("select[name=format]", "csv")
    page.click("[data-download-selected]")
    page.wait_for_url("**/invoices/exports/**")
    link = page.locator("[data-export-download]")
    assert link.is_visible()
    assert page.locator("progress").get_attribute("value") == str(BULK_SYNC_LIMIT + 4)
    with page.expect_download() as info:
        link.click()
    text = zipfile.ZipFile(info.value.path()).read("invoices.csv").decode("utf-8-sig")
    numbers = {line.split(",")[0] for line in text.splitlines()[1:]}
    assert len(numbers) == BULK_SYNC_LIMIT + 4  # the 51 new ones and the 3 from the fixture
    assert data["foreign"].number not in numbers


def test_paging_through_a_sorted_table_with_next_and_previous(page, live_server, browser_login):
    """Sort by amount, then Next, Next, Previous: every row once, in amount order (keyset links)."""
    from decimal import Decimal

    company = CompanyFactory()
    account = ShippingAccountFactory(company=company)
    user = MembershipFactory(company=company, role=Role.ADMINISTRATOR).user
    # Many equal amounts: ties are broken by invoice number.
    made = [
        InvoiceFactory(account=account, number=f"PAGE{index:08d}", total=Decimal(1000 * (1 + index % 4)))
        for index in range(23)
    ]
    expected = [i.number for i in sorted(made, key=lambda i: (i.total, i.number))]

    browser_login(user)
    page.goto(f"{live_server.url}/invoices/accounts/?page_size=10")
    page.click("thead a:text-is('Amount'), thead a:text-is('금액')")
    page.wait_for_url("**sort=total*")

    def shown() -> list[str]:
        return page.locator("tbody tr[data-invoice]").evaluate_all("rows => rows.map(r => r.dataset.invoice)")

    pages = [shown()]
    for number in (2, 3):
        page.click("nav.invoice-pagination a[rel=next]")
        page.wait_for_url(f"**page={number}*")
        pages.append(shown())
    assert [number for rows in pages for number in rows] == expected
    assert page.locator("nav.invoice-pagination [aria-current=page]").inner_text().count("3") == 2  # page 3 of 3
    page.click("nav.invoice-pagination a[rel=prev]")
    page.wait_for_url("**before=*")
    assert shown() == expected[10:20]
