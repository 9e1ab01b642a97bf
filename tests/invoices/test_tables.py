"""My Account Invoices / My Plan Invoices: sorting, filters, search, paging, scope, query counts.

Expectations are computed in Python from the objects the test created, not by the selector.
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import Role
from disputes.models import Dispute, DisputeStatus
from invoices.models import Invoice
from tests.accounts.factories import MembershipFactory
from tests.invoices.conftest import TABLE_TODAY
from tests.invoices.factories import InvoiceFactory, InvoiceLineFactory, ShipmentFactory

TODAY = TABLE_TODAY
pytestmark = pytest.mark.usefixtures("table_today")


@pytest.fixture
def table(world):
    """Twelve account invoices with distinct dates and amounts, in several states."""
    invoices = []
    for index in range(12):
        account = world.account_a if index % 2 == 0 else world.account_b
        invoice_date = datetime.date(2026, 1, 5) + datetime.timedelta(days=13 * index)
        total = Decimal(10000 + 7919 * ((index * 5) % 12))  # distinct, not in date order
        paid = {3: total, 4: total + Decimal(5000)}.get(index, Decimal(0))
        invoices.append(
            InvoiceFactory(
                number=f"BC{2600 + index:08d}",
                account=account,
                invoice_date=invoice_date,
                due_date=invoice_date + datetime.timedelta(days=20 + index),
                total=total,
                amount_paid=paid,
            )
        )
    # A plan invoice must not appear on the account table (and vice versa).
    world.plan_invoice = InvoiceFactory(
        number="PLAN00000001", account=None, plan=world.plan, currency="KRW", invoice_date=datetime.date(2026, 3, 1)
    )
    # One invoice is disputed (open dispute), another had a dispute that was rejected.
    Dispute.objects.create(reference="D-1", company=world.company, invoice=invoices[5], filed_by=world.admin)
    Dispute.objects.create(
        reference="D-2", company=world.company, invoice=invoices[6], filed_by=world.admin, status=DisputeStatus.REJECTED
    )
    # A tracking number billed on invoice 7.
    shipment = ShipmentFactory(account=invoices[7].account, tracking_number="1ZTRACKME000000042")
    InvoiceLineFactory(invoice=invoices[7], shipment=shipment)
    return [Invoice.objects.get(pk=invoice.pk) for invoice in invoices]


def _status(invoice: Invoice) -> str:
    if invoice.total > invoice.amount_paid:
        return "past_due" if invoice.due_date < TODAY else "open"
    return "paid" if invoice.total == invoice.amount_paid else "credit"


def _numbers(response) -> list[str]:
    return [row.invoice.number for row in response.context["rows"]]


URL = "/invoices/accounts/"


@pytest.mark.parametrize(
    ("sort", "key"),
    [
        ("number", lambda i: i.number),
        ("invoice_date", lambda i: i.invoice_date),
        ("due_date", lambda i: i.due_date),
        ("total", lambda i: i.total),
        ("balance", lambda i: i.total - i.amount_paid),
        ("billable", lambda i: (i.account.number, i.number)),
        ("status", lambda i: (_status(i), i.number)),
    ],
)
@pytest.mark.parametrize("descending", [False, True])
def test_clicking_a_column_sorts_by_it_and_again_reverses(client, world, table, sort, key, descending):
    client.force_login(world.admin)
    value = f"-{sort}" if descending else sort
    response = client.get(URL, {"sort": value, "page_size": 100})
    # Ties (same account, same status) are broken by invoice number in the same direction.
    expected = [i.number for i in sorted(table, key=key, reverse=descending)]
    assert _numbers(response) == expected
    header = next(c for c in response.context["columns"] if c["key"] == sort)
    assert header["aria_sort"] == ("descending" if descending else "ascending")
    # The header link reverses the order and keeps the other parameters.
    assert f"sort={sort if descending else '-' + sort}" in header["url"]
    assert "page_size=100" in header["url"]
    assert f'aria-sort="{header["aria_sort"]}"' in response.content.decode()


def test_default_order_is_newest_invoice_first_and_status_is_shown(client, world, table):
    client.force_login(world.admin)
    response = client.get(URL, {"page_size": 100})
    expected = sorted(table, key=lambda i: i.invoice_date, reverse=True)
    assert _numbers(response) == [i.number for i in expected]
    shown = {row.invoice.number: row.invoice.display_status for row in response.context["rows"]}
    assert shown == {i.number: _status(i) for i in table}
    assert "PLAN00000001" not in response.content.decode()


@pytest.mark.parametrize("status", ["open", "past_due", "paid", "credit"])
def test_status_filter_matches_the_computed_status(client, world, table, status):
    client.force_login(world.admin)
    response = client.get(URL, {"status": status, "page_size": 100})
    assert set(_numbers(response)) == {i.number for i in table if _status(i) == status}


def test_disputed_filter_and_marker_follow_open_disputes_only(client, world, table):
    client.force_login(world.admin)
    response = client.get(URL, {"status": "disputed"})
    assert _numbers(response) == [table[5].number]
    everything = client.get(URL, {"page_size": 100})
    marked = {row.invoice.number for row in everything.context["rows"] if row.invoice.disputed}
    assert marked == {table[5].number}  # the rejected dispute on table[6] does not count
    assert everything.content.decode().count("badge-disputed") == 1


def test_filters_by_account_dates_and_amount_combine(client, world, table):
    client.force_login(world.admin)
    params = {
        "billable": world.account_b.number,
        "invoice_date_from": "2026-02-01",
        "invoice_date_to": "2026-05-31",
        "due_date_from": "2026-02-20",
        "amount_min": "20000",
        "amount_max": "90000",
        "page_size": 100,
    }
    response = client.get(URL, params)
    expected = {
        i.number
        for i in table
        if i.account_id == world.account_b.id
        and datetime.date(2026, 2, 1) <= i.invoice_date <= datetime.date(2026, 5, 31)
        and i.due_date >= datetime.date(2026, 2, 20)
        and Decimal(20000) <= i.total <= Decimal(90000)
    }
    assert expected  # the data makes the filter meaningful
    assert set(_numbers(response)) == expected


@pytest.mark.parametrize(
    ("search", "expected_index"),
    [("BC00002603", [3]), ("1ztrackme000000042", [7]), ("TRACKME", [7])],
)
def test_search_finds_invoice_and_tracking_numbers(client, world, table, search, expected_index):
    client.force_login(world.admin)
    response = client.get(URL, {"q": search})
    assert _numbers(response) == [table[i].number for i in expected_index]


def test_search_by_account_number_lists_only_that_accounts_invoices(client, world, table):
    client.force_login(world.admin)
    response = client.get(URL, {"q": world.account_a.number, "page_size": 100})
    assert set(_numbers(response)) == {i.number for i in table if i.account_id == world.account_a.id}


def test_count_and_totals_describe_the_whole_filtered_set_not_the_page(client, world, table):
    client.force_login(world.admin)
    response = client.get(URL, {"page_size": 10, "status": "past_due"})
    past_due = [i for i in table if _status(i) == "past_due"]
    totals = response.context["totals"]
    assert totals.count == len(past_due)
    assert totals.by_currency[0]["total"] == sum(i.total for i in past_due)
    assert totals.by_currency[0]["balance"] == sum(i.total - i.amount_paid for i in past_due)


def test_pagination_keeps_filters_and_sort(client, world, table):
    client.force_login(world.admin)
    response = client.get(URL, {"sort": "total", "page_size": 10, "page": 2})
    expected = [i.number for i in sorted(table, key=lambda i: i.total)][10:]
    assert _numbers(response) == expected
    assert "sort=total" in response.context["page_links"]["previous"]
    assert "page_size=10" in response.context["page_links"]["previous"]


@pytest.mark.parametrize(
    "params",
    [
        {"invoice_date_from": "2026-13-45"},
        {"invoice_date_from": "2026-05-01", "invoice_date_to": "2026-04-01"},
        {"due_date_from": "yesterday"},
        {"amount_min": "lots"},
        {"amount_min": "500", "amount_max": "100"},
        {"sort": "password"},
        {"page": "-3"},
        {"page": "9999"},
        {"page_size": "100000"},
        {"status": "bogus"},
        {"billable": "ZZZZZZ"},
    ],
)
def test_bad_table_parameters_give_a_message_never_a_500(client, world, table, params):
    client.force_login(world.admin)
    response = client.get(URL, params)
    assert response.status_code == 200
    form = response.context["form"]
    page_only = set(params) <= {"page"}
    assert form.errors or page_only
    if form.errors:
        assert "Some filters could not be used" in response.content.decode()


def test_a_reversed_range_is_reported_next_to_the_end_field(client, world, table):
    client.force_login(world.admin)
    response = client.get(URL, {"invoice_date_from": "2026-05-01", "invoice_date_to": "2026-04-01"})
    assert response.context["form"].errors["invoice_date_to"] == ["The end date is before the start date."]


def test_empty_result_says_what_to_change(client, world, table):
    client.force_login(world.admin)
    response = client.get(URL, {"q": "NOTHING-LIKE-THIS"})
    assert "No invoices match your search and filters" in response.content.decode()
    assert response.context["totals"].count == 0


def test_tables_show_only_invoices_in_scope(client, world, table):
    client.force_login(world.viewer)  # assigned account a only
    response = client.get(URL, {"page_size": 100})
    assert set(_numbers(response)) == {i.number for i in table if i.account_id == world.account_a.id}
    body = response.content.decode()
    assert world.foreign.number not in body
    # The account filter offers only the accounts the user may see.
    assert [c[0] for c in response.context["form"].fields["billable"].choices] == ["", world.account_a.number]
    # A foreign account in the filter is refused, not used.
    foreign = client.get(URL, {"billable": world.foreign_account.number})
    assert "billable" in foreign.context["form"].errors


def test_plan_table_lists_plan_invoices(client, world, table):
    client.force_login(world.admin)
    response = client.get("/invoices/plans/")
    assert _numbers(response) == ["PLAN00000001"]


def test_anonymous_users_are_sent_to_log_in(client, world):
    response = client.get(URL)
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


def test_actions_menu_offers_xml_only_for_enrolled_accounts(client, world, table):
    client.force_login(world.admin)
    body = client.get(URL, {"page_size": 100}).content.decode()
    enrolled = table[0]  # account a is XML-enrolled
    not_enrolled = table[1]
    assert reverse("invoices:xml", args=[enrolled.number]) in body
    assert reverse("invoices:xml", args=[not_enrolled.number]) not in body
    assert "XML: this account is not enrolled in XML invoices." in body
    assert f"/payments/pay/?invoice={enrolled.number}" in body
    assert f"/disputes/new/?invoice={enrolled.number}" in body


def test_viewer_sees_no_pay_or_dispute_actions(client, world, table):
    client.force_login(world.viewer)
    body = client.get(URL).content.decode()
    assert "/payments/pay/?invoice=" not in body
    assert "/disputes/new/?invoice=" not in body
    assert reverse("invoices:pdf", args=[table[0].number]) in body


def _many_invoices(world, count):
    for index in range(count):
        invoice = InvoiceFactory(
            account=world.account_a if index % 2 else world.account_b,
            invoice_date=datetime.date(2026, 1, 1) + datetime.timedelta(days=index % 150),
        )
        if index % 7 == 0:
            Dispute.objects.create(
                reference=f"DQ-{index}", company=world.company, invoice=invoice, filed_by=world.admin
            )


@pytest.mark.parametrize("user_role", ["admin", "viewer"])
def test_table_query_count_does_not_grow_with_page_size(client, world, django_assert_max_num_queries, user_role):
    _many_invoices(world, 120)
    user = getattr(world, user_role)
    client.force_login(user)
    client.get(URL)  # warm up (session, language)
    with django_assert_max_num_queries(12) as small:
        response = client.get(URL, {"page_size": 10, "sort": "-balance"})
    assert len(response.context["rows"]) == 10
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(URL, {"page_size": 100, "sort": "-balance"})
    assert len(response.context["rows"]) in (60, 100)


def test_membership_in_two_companies_shows_both(client, world, table):
    MembershipFactory(
        user=world.admin, company=world.foreign_account.company, role=Role.VIEWER, accounts=[world.foreign_account]
    )
    client.force_login(world.admin)
    response = client.get(URL, {"page_size": 100})
    assert world.foreign.number in _numbers(response)
    assert re.search(r"\d+ invoices", response.content.decode())


def test_temporary_account_invoices_offer_no_online_payment_or_dispute(client, world):
    from tests.accounts.factories import ShippingAccountFactory

    temporary = ShippingAccountFactory(company=world.company, number="5012348876")
    invoice = InvoiceFactory(account=temporary, invoice_date=datetime.date(2026, 6, 1))
    client.force_login(world.admin)
    body = client.get(URL, {"billable": temporary.number}).content.decode()
    assert invoice.number in body
    assert f"/payments/pay/?invoice={invoice.number}" not in body
    assert f"/disputes/new/?invoice={invoice.number}" not in body
    assert "cannot be paid or disputed online" in body
    assert temporary.billing_contact_phone in body


def test_account_filter_escapes_names_and_marks_the_chosen_account(client, world, table):
    world.account_b.name = '<img src=x onerror="alert(1)"> & "부산"'
    world.account_b.save()
    client.force_login(world.admin)
    response = client.get(URL, {"billable": world.account_b.number})
    body = response.content.decode()
    assert '<img src=x onerror="alert(1)">' not in body
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; &quot;부산&quot;" in body
    options = re.findall(
        r'<option value="([^"]*)"( selected)?>', body.split('name="billable"', 1)[1].split("</select>")[0]
    )
    assert [value for value, chosen in options if chosen] == [world.account_b.number]
    assert {value for value, _chosen in options} == {"", world.account_a.number, world.account_b.number}


def test_row_links_are_the_reversed_urls_of_each_invoice(client, world):
    """Row links are built once per page and filled in per row; a number that needs escaping
    in a URL is reversed on its own."""
    plain = InvoiceFactory(account=world.account_a, number="BC00009999")
    odd = InvoiceFactory(account=world.account_a, number="BC 99#é?")
    client.force_login(world.admin)
    body = client.get(URL, {"page_size": 100}).content.decode()
    for invoice in (plain, odd):
        for name in ("invoices:detail", "invoices:print", "invoices:pdf", "invoices:csv"):
            href = reverse(name, args=[invoice.number])
            assert f'href="{href}"' in body, (name, href)
    assert reverse("invoices:pdf", args=[odd.number]) != f"/invoices/{odd.number}/pdf/"  # it is escaped
    assert client.get(reverse("invoices:detail", args=[odd.number])).status_code == 200
