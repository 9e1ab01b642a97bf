"""Paging through an invoice table the way a person does: Next, Previous, First, Last.

Previous/Next links carry the edge row of the page they come from (a signed token); the
next page is read from there. Walking every page either way must give exactly the order the
column promises, with ties broken by invoice number, whatever the sort. Expectations are
computed in Python from the invoices the test made.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest

from invoices.models import Invoice
from tests.invoices.conftest import TABLE_TODAY
from tests.invoices.factories import InvoiceFactory

TODAY = TABLE_TODAY
pytestmark = pytest.mark.usefixtures("table_today")
URL = "/invoices/accounts/"
PAGE = 10


@pytest.fixture
def invoices(world):
    """37 account invoices with many ties (dates, amounts, accounts) in every status."""
    made = []
    for index in range(37):
        invoice_date = datetime.date(2026, 3, 1) + datetime.timedelta(days=7 * (index % 4))
        total = Decimal(10000 * (1 + index % 3))
        paid = (Decimal(0), total, total + Decimal(1000), Decimal(2500))[index % 4]
        made.append(
            InvoiceFactory(
                number=f"PG{index * 7919 % 1000:06d}{index:02d}",  # number order unrelated to index
                account=world.account_a if index % 5 else world.account_b,
                invoice_date=invoice_date,
                due_date=invoice_date + datetime.timedelta(days=30 * (index % 5)),
                total=total,
                amount_paid=paid,
            )
        )
    return [Invoice.objects.select_related("account").get(pk=invoice.pk) for invoice in made]


def _status(invoice: Invoice) -> str:
    if invoice.total > invoice.amount_paid:
        return "past_due" if invoice.due_date < TODAY else "open"
    return "paid" if invoice.total == invoice.amount_paid else "credit"


KEYS = {
    "number": lambda i: (i.number,),
    "billable": lambda i: (i.account.number, i.number),
    "invoice_date": lambda i: (i.invoice_date, i.number),
    "due_date": lambda i: (i.due_date, i.number),
    "total": lambda i: (i.total, i.number),
    "balance": lambda i: (i.total - i.amount_paid, i.number),
    "status": lambda i: (_status(i), i.number),
}
SORTS = [prefix + key for key in KEYS for prefix in ("", "-")]


def _expected(invoices, sort: str) -> list[str]:
    key = KEYS[sort.lstrip("-")]
    return [i.number for i in sorted(invoices, key=key, reverse=sort.startswith("-"))]


def _numbers(response) -> list[str]:
    return [row.invoice.number for row in response.context["rows"]]


def _get(client, link: str):
    response = client.get(URL + link)
    assert response.status_code == 200
    return response


@pytest.mark.parametrize("sort", SORTS)
def test_next_links_walk_every_row_once_in_the_promised_order(client, world, invoices, sort):
    client.force_login(world.admin)
    response = client.get(URL, {"sort": sort, "page_size": PAGE})
    seen = _numbers(response)
    pages = 1
    while response.context["page_links"]["next"]:
        link = response.context["page_links"]["next"]
        assert "after=" in link and f"page={pages + 1}" in link
        response = _get(client, link)
        pages += 1
        seen += _numbers(response)
        assert response.context["page"].number == pages
    assert pages == 4
    assert seen == _expected(invoices, sort)


@pytest.mark.parametrize("sort", SORTS)
def test_previous_links_from_the_last_page_walk_back_to_the_first(client, world, invoices, sort):
    client.force_login(world.admin)
    first = client.get(URL, {"sort": sort, "page_size": PAGE})
    response = _get(client, first.context["page_links"]["last"])
    assert response.context["page"].number == 4
    pages = [_numbers(response)]
    while response.context["page_links"]["previous"]:
        link = response.context["page_links"]["previous"]
        assert "before=" in link
        response = _get(client, link)
        pages.insert(0, _numbers(response))
    assert [len(page) for page in pages] == [10, 10, 10, 7]
    assert [number for page in pages for number in page] == _expected(invoices, sort)


@pytest.mark.parametrize("sort", ["-invoice_date", "status", "-status", "billable"])
def test_a_page_number_alone_shows_the_same_rows_as_the_links(client, world, invoices, sort):
    client.force_login(world.admin)
    expected = _expected(invoices, sort)
    for page in (1, 2, 3, 4):
        response = client.get(URL, {"sort": sort, "page_size": PAGE, "page": page})
        assert _numbers(response) == expected[(page - 1) * PAGE : page * PAGE]


def test_a_tampered_or_foreign_token_is_ignored_not_trusted(client, world, invoices):
    client.force_login(world.admin)
    response = client.get(URL, {"sort": "total", "page_size": PAGE})
    next_link = response.context["page_links"]["next"]
    query = {key: values[0] for key, values in parse_qs(urlsplit(next_link).query).items()}
    by_number = _numbers(client.get(URL, {"sort": "total", "page_size": PAGE, "page": 2}))

    tampered = dict(query, after=query["after"][:-3] + ("AAA" if not query["after"].endswith("AAA") else "BBB"))
    assert _numbers(client.get(URL, tampered)) == by_number
    # The same token under another sort, another filter or another page number: read by number.
    other_sort = dict(query, sort="-total")
    assert _numbers(client.get(URL, other_sort)) == _expected(invoices, "-total")[PAGE : 2 * PAGE]
    other_page = dict(query, page="3")
    assert _numbers(client.get(URL, other_page)) == _expected(invoices, "total")[2 * PAGE : 3 * PAGE]
    other_filter = dict(query, billable=world.account_a.number)
    of_a = {i.number for i in invoices if i.account_id == world.account_a.id}
    expected = [number for number in _expected(invoices, "total") if number in of_a]
    assert _numbers(client.get(URL, other_filter)) == expected[PAGE : 2 * PAGE]
    assert client.get(URL, dict(query, after="garbage")).status_code == 200
    assert client.get(URL, dict(query, before="x" * 500)).status_code == 200


def test_a_filter_or_sort_change_starts_from_page_one_without_a_token(client, world, invoices):
    client.force_login(world.admin)
    response = client.get(URL, {"sort": "total", "page_size": PAGE})
    second = _get(client, response.context["page_links"]["next"])
    for column in second.context["columns"]:
        assert "after=" not in column["url"] and "page=" not in column["url"]
    assert "after=" not in second.context["page_links"]["first"]
    assert "after=" not in second.context["page_links"]["last"]


def test_a_page_reached_by_next_costs_the_queries_of_the_first(client, world, invoices, django_assert_max_num_queries):
    client.force_login(world.admin)
    client.get(URL)  # warm up (session, language)
    with django_assert_max_num_queries(12) as first:
        response = client.get(URL, {"sort": "status", "page_size": PAGE})
    queries = len(first.captured_queries)  # read now: the next request clears the log
    link = response.context["page_links"]["next"]
    _get(client, link)
    for _ in range(2):
        with django_assert_max_num_queries(queries):
            response = _get(client, link)
        link = response.context["page_links"]["next"]


def test_a_next_link_into_an_account_no_longer_visible_reads_the_page_by_number(client, world, invoices):
    """Sorted by account, a position names an account; if it left the user's scope meanwhile,
    the page is read by number (no error, nothing of that account shown)."""
    from accounts.models import Role
    from tests.accounts.factories import MembershipFactory

    membership = MembershipFactory(
        company=world.company, role=Role.MANAGER, accounts=[world.account_a, world.account_b]
    )
    client.force_login(membership.user)
    first = client.get(URL, {"sort": "billable", "page_size": PAGE})
    last_shown = first.context["rows"][-1].invoice
    link = first.context["page_links"]["next"]
    membership.accounts.remove(last_shown.account)

    response = _get(client, link)

    remaining = _expected([i for i in invoices if i.account_id != last_shown.account_id], "billable")
    page = min(2, -(-len(remaining) // PAGE))  # page 2, or the last page when fewer are left
    assert response.context["page"].number == page
    assert _numbers(response) == remaining[(page - 1) * PAGE : page * PAGE]
    assert last_shown.number not in _numbers(response)


@pytest.mark.parametrize("sort", ["billable", "-billable"])
def test_sorted_by_account_pages_span_accounts_of_any_size(client, world, sort):
    """Each account is a segment: pages start mid-account, span several small ones, skip empty ones."""
    from tests.accounts.factories import ShippingAccountFactory

    made = []
    for index, size in enumerate((0, 3, 12, 1, 9, 0, 4)):
        account = ShippingAccountFactory(company=world.company, number=f"SEG{index:03d}")
        made += [InvoiceFactory(account=account, number=f"S{index}{n:06d}") for n in range(size)]
    made = [Invoice.objects.select_related("account").get(pk=i.pk) for i in made]
    expected = _expected(made, sort)
    client.force_login(world.admin)

    response = client.get(URL, {"sort": sort, "page_size": PAGE})
    seen = _numbers(response)
    while response.context["page_links"]["next"]:
        response = _get(client, response.context["page_links"]["next"])
        seen += _numbers(response)
    assert seen == expected
    for page in (1, 2, 3):
        by_number = client.get(URL, {"sort": sort, "page_size": PAGE, "page": page})
        assert _numbers(by_number) == expected[(page - 1) * PAGE : page * PAGE]


@pytest.mark.parametrize("url", ["/invoices/plans/", "/invoices/accounts/"])
@pytest.mark.parametrize("query", [{"sort": "billable"}, {"sort": "-billable", "after": "x", "page": "2"}])
def test_sorting_by_account_or_plan_with_none_visible_shows_an_empty_table(client, world, url, query):
    from tests.accounts.factories import UserFactory

    client.force_login(UserFactory())  # no membership: nothing is visible
    response = client.get(url, query)
    assert response.status_code == 200
    assert response.context["rows"] == []


@pytest.mark.parametrize("direction", ["next", "previous"])
def test_the_link_continues_from_the_row_shown_even_when_rows_arrive_meanwhile(client, world, invoices, direction):
    """Next starts right after the last row shown (an index seek), not at an offset that a new
    invoice at the top would shift by one; Previous ends right before the first row shown."""
    client.force_login(world.admin)
    response = client.get(URL, {"sort": "total", "page_size": PAGE, "page": 2})
    shown = _numbers(response)
    link = response.context["page_links"][direction]
    InvoiceFactory(account=world.account_a, number="PG00000000AA", total=Decimal(1))  # sorts first
    InvoiceFactory(account=world.account_a, number="PG00000000AB", total=Decimal(2))

    following = _numbers(_get(client, link))

    order = _expected(invoices, "total")
    if direction == "next":
        start = order.index(shown[-1]) + 1
        assert following == order[start : start + PAGE]
    else:
        end = order.index(shown[0])
        assert following == order[end - PAGE : end]
