"""Shipping history (R22): scoped, searchable, linked to the invoice; anonymous visitors get the phone number."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from tests.invoices.factories import InvoiceFactory, InvoiceLineFactory, ShipmentFactory

URL = "/shipments/"


@pytest.fixture
def shipments(world):
    made = []
    for index in range(6):
        account = world.account_a if index % 2 == 0 else world.account_b
        made.append(
            ShipmentFactory(
                account=account,
                tracking_number=f"1ZHIST{index:012d}",
                ship_date=datetime.date(2026, 9, 1) + datetime.timedelta(days=index * 5),
            )
        )
    invoice = InvoiceFactory(account=world.account_a, number="SHIPINV00001")
    InvoiceLineFactory(invoice=invoice, shipment=made[0])
    plan_invoice = InvoiceFactory(account=None, plan=world.plan, currency="KRW", number="SHIPPLAN0001")
    InvoiceLineFactory(invoice=plan_invoice, shipment=made[2])
    return made


def _tracking(response):
    return [s.tracking_number for s in response.context["page"].object_list]


def test_anonymous_visitors_are_told_to_log_in_or_call(client, settings):
    response = client.get(URL)
    assert response.status_code == 200
    body = response.content.decode()
    assert settings.BILLING_SUPPORT_PHONE == "080-687-6886"
    assert "080-687-6886" in body
    assert reverse("account_login") in body


def test_history_lists_own_shipments_newest_first(client, world, shipments):
    foreign = ShipmentFactory(account=world.foreign_account)
    client.force_login(world.admin)
    response = client.get(URL)
    expected = [s.tracking_number for s in sorted(shipments, key=lambda s: s.ship_date, reverse=True)]
    assert _tracking(response) == expected
    assert foreign.tracking_number not in response.content.decode()


def test_history_respects_assigned_accounts(client, world, shipments):
    client.force_login(world.viewer)
    response = client.get(URL)
    assert set(_tracking(response)) == {s.tracking_number for s in shipments if s.account_id == world.account_a.id}


def test_search_by_tracking_number_and_filters(client, world, shipments):
    client.force_login(world.admin)
    assert _tracking(client.get(URL, {"tracking": "1zhist000000000003"})) == [shipments[3].tracking_number]
    by_account = client.get(URL, {"account": world.account_b.number})
    assert set(_tracking(by_account)) == {s.tracking_number for s in shipments if s.account_id == world.account_b.id}
    ranged = client.get(URL, {"ship_date_from": "2026-09-06", "ship_date_to": "2026-09-16"})
    assert set(_tracking(ranged)) == {
        s.tracking_number for s in shipments if datetime.date(2026, 9, 6) <= s.ship_date <= datetime.date(2026, 9, 16)
    }


def test_each_shipment_links_to_the_invoice_that_billed_it(client, world, shipments):
    client.force_login(world.admin)
    body = client.get(URL).content.decode()
    assert reverse("invoices:detail", args=["SHIPINV00001"]) in body
    assert reverse("invoices:detail", args=["SHIPPLAN0001"]) in body


def test_invoice_links_follow_invoice_scope(client, world, shipments):
    # The viewer sees account a's shipment billed on a plan invoice, but not the plan: no link to it.
    client.force_login(world.viewer)
    body = client.get(URL).content.decode()
    assert shipments[2].tracking_number in body
    assert "SHIPPLAN0001" not in body
    assert "SHIPINV00001" in body


@pytest.mark.parametrize(
    "params",
    [
        {"ship_date_from": "2026-02-30"},
        {"ship_date_from": "2026-09-10", "ship_date_to": "2026-09-01"},
        {"account": "XXXXXX"},
        {"page": "x"},
    ],
)
def test_bad_shipment_filters_give_a_message(client, world, shipments, params):
    client.force_login(world.admin)
    response = client.get(URL, params)
    assert response.status_code == 200
    assert response.context["form"].errors


def test_history_query_count_is_constant(client, world, django_assert_max_num_queries):
    for _index in range(40):
        shipment = ShipmentFactory(account=world.account_a)
        InvoiceLineFactory(invoice=InvoiceFactory(account=world.account_a), shipment=shipment)
    client.force_login(world.admin)
    client.get(URL)
    with django_assert_max_num_queries(10):
        response = client.get(URL)
    assert len(response.context["page"].object_list) == 25
