"""The selectors the invoice pages call: one invoice for this user (``invoice_for_user``) and one
table page (``invoice_table_page_get``)."""

from __future__ import annotations

import pytest

from accounts.access import Action
from invoices.selectors.scope import billables_visible, invoice_for_user
from invoices.selectors.tables import invoice_table_page_get
from tests.invoices.factories import InvoiceFactory

from .conftest import TABLE_TODAY

pytestmark = pytest.mark.django_db


def test_an_invoice_outside_the_users_scope_is_none(world):
    mine = InvoiceFactory(account=world.account_b)  # the viewer sees account a only

    assert invoice_for_user(user=world.viewer, number=mine.number, action=Action.VIEW) is None
    assert invoice_for_user(user=world.admin, number=world.foreign.number, action=Action.VIEW) is None
    assert invoice_for_user(user=world.admin, number="NOPE", action=Action.VIEW) is None


def test_the_access_carries_the_users_role_and_what_it_allows(world):
    invoice = InvoiceFactory(account=world.account_a)

    viewer = invoice_for_user(user=world.viewer, number=invoice.number, action=Action.PAY)
    admin = invoice_for_user(user=world.admin, number=invoice.number, action=Action.PAY)

    assert viewer.invoice == invoice and viewer.role == "viewer"
    assert not viewer.allowed and viewer.can_download and not viewer.can_pay and not viewer.can_dispute
    assert admin.allowed and admin.can_pay and admin.can_dispute and admin.can_manage


def test_one_invoice_with_its_role_in_two_queries(world, django_assert_num_queries):
    invoice = InvoiceFactory(account=world.account_a)
    with django_assert_num_queries(2):  # the invoice with its role; its lines
        access = invoice_for_user(user=world.admin, number=invoice.number, action=Action.DOWNLOAD)
    with django_assert_num_queries(0):
        assert access.invoice.billable.company == world.company and list(access.invoice.lines.all()) == []


def test_with_today_the_invoice_carries_its_display_status_and_dispute_flag(world):
    invoice = InvoiceFactory(account=world.account_a)

    access = invoice_for_user(user=world.admin, number=invoice.number, action=Action.VIEW, today=TABLE_TODAY)

    assert access.invoice.display_status == invoice.display_status_on(TABLE_TODAY)
    assert access.invoice.disputed is False


def _page(world, *, page: int | None = None, after: str | None = None):
    """Page ``page`` of the administrator's account table by invoice number, 10 rows a page."""
    filters = {"page_size": 10, "sort": "number", **({"page": page} if page else {})}
    billables = billables_visible(user=world.admin, kind="account")
    return invoice_table_page_get(
        user=world.admin, kind="account", filters=filters, today=TABLE_TODAY, billables=billables, after=after
    )


def test_a_table_page_holds_rows_totals_and_the_cursors_of_its_neighbours(world):
    ordered = sorted(InvoiceFactory(account=world.account_a).number for _ in range(25))

    first = _page(world)
    second = _page(world, page=2, after=first.next_cursor)

    assert first.totals.count == 25 and first.paginator.num_pages == 3 and first.sort == "number"
    assert [invoice.number for invoice in first.rows] == ordered[:10]
    assert first.page.object_list == first.rows and first.previous_cursor is None and first.next_cursor
    assert [invoice.number for invoice in second.rows] == ordered[10:20]
    assert second.page.number == 2 and second.previous_cursor and second.next_cursor


def test_a_cursor_of_another_page_is_ignored_and_the_page_read_by_number(world):
    ordered = sorted(InvoiceFactory(account=world.account_a).number for _ in range(25))

    third = _page(world, page=3, after=_page(world).next_cursor)  # a cursor made for page 2

    assert [invoice.number for invoice in third.rows] == ordered[20:]
