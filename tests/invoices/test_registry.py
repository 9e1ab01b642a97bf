"""invoices.registry: what payments and disputes add to invoices without invoices querying them."""

from __future__ import annotations

import pytest
from django.db.models import Exists, OuterRef

from disputes.models import OPEN_DISPUTE_STATUSES, DisputeStatus
from invoices.models import Invoice
from invoices.registry import DetailSections, OpenHolds, detail_sections, open_holds
from tests.disputes.factories import DisputeFactory
from tests.invoices.factories import InvoiceFactory
from tests.payments.factories import PaymentAllocationFactory, PaymentFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("status", DisputeStatus.values)
def test_an_invoice_is_disputed_exactly_while_a_dispute_of_it_is_open(world, status):
    invoice = InvoiceFactory(account=world.account_a)
    DisputeFactory(invoice=invoice, filed_by=world.admin, status=status)
    flagged = Invoice.objects.with_disputed().get(pk=invoice.pk).disputed

    assert flagged is (status in OPEN_DISPUTE_STATUSES)
    assert Invoice.objects.filter(pk=invoice.pk).held().exists() is flagged


def test_the_disputed_flag_is_one_subquery(world, django_assert_num_queries):
    InvoiceFactory(account=world.account_a)
    with django_assert_num_queries(1) as captured:
        list(Invoice.objects.with_disputed())
    assert captured.captured_queries[0]["sql"].count("EXISTS") == 1


def test_without_registered_holds_no_invoice_is_held(world):
    invoice = InvoiceFactory(account=world.account_a)
    empty = OpenHolds()

    assert Invoice.objects.annotate(held=empty.condition()).get(pk=invoice.pk).held is False
    assert not Invoice.objects.filter(empty.condition()).exists()


def test_several_holds_are_combined_with_or(world):
    held_by_a, held_by_b, free = (InvoiceFactory(account=world.account_a) for _ in range(3))
    holds = OpenHolds()
    holds.register("a", lambda: Exists(Invoice.objects.filter(pk=OuterRef("pk"), number=held_by_a.number)))
    holds.register("b", lambda: Exists(Invoice.objects.filter(pk=OuterRef("pk"), number=held_by_b.number)))

    held = set(Invoice.objects.filter(holds.condition()).values_list("pk", flat=True))

    assert held == {held_by_a.pk, held_by_b.pk} and free.pk not in held


def test_disputes_and_payments_registered_their_parts_in_ready():
    assert "disputes.open_dispute" in open_holds._conditions
    assert [source.name for source in sorted(detail_sections._sources.values(), key=lambda s: s.order)] == [
        "payments",
        "disputes",
    ]


def test_detail_sections_come_in_order_with_each_apps_context(world):
    invoice = InvoiceFactory(account=world.account_a)
    allocation = PaymentAllocationFactory(payment=PaymentFactory(company=world.company), invoice=invoice)
    dispute = DisputeFactory(invoice=invoice, filed_by=world.admin)

    sections = detail_sections.for_invoice(invoice=invoice, user=world.admin)

    assert [section.name for section in sections] == ["payments", "disputes"]
    assert sections[0].context["allocations"] == [allocation]
    assert sections[1].context["disputes"] == [dispute]


def test_a_section_registered_again_replaces_the_first():
    sections = DetailSections()
    sections.register("x", lambda **kwargs: {"n": 1}, template="a.html", order=2)
    sections.register("y", lambda **kwargs: {"n": 2}, template="b.html", order=1)
    sections.register("x", lambda **kwargs: {"n": 3}, template="c.html", order=3)

    built = sections.for_invoice(invoice=None, user=None)

    assert [(section.name, section.template, section.context["n"]) for section in built] == [
        ("y", "b.html", 2),
        ("x", "c.html", 3),
    ]
