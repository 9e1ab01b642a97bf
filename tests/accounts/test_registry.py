"""accounts asks the apps that depend on it through registries they fill in ready(): what blocks
removing an account or plan, and the per-row facts of the My Accounts / My Plans tables."""

from __future__ import annotations

import pytest
from django.utils import timezone

from accounts.models import Role
from accounts.registry import BillableFlags, RemovalBlockers, billable_flags, removal_blockers
from accounts.services.billables import billable_removal_blockers
from disputes.models import Dispute, DisputeStatus
from payments.models import AutoPaySchedule
from tests.accounts.factories import BillingPlanFactory, CompanyFactory, MembershipFactory, ShippingAccountFactory
from tests.invoices.factories import InvoiceFactory

pytestmark = pytest.mark.django_db


def test_blockers_come_in_their_order_whatever_order_they_were_registered_in():
    blockers = RemovalBlockers()
    blockers.register(lambda billable: ["second"], order=20)
    first = blockers.register(lambda billable: ["first"], order=10)
    blockers.register(first, order=10)  # ready() may run twice: registered once

    assert blockers.reasons(object()) == ["first", "second"]


def test_flags_are_set_on_every_row_of_the_page():
    flags = BillableFlags()
    flags.register(lambda rows: {row.pk: {"live": row.pk * 10} for row in rows})
    rows = [type("Row", (), {"pk": pk})() for pk in (1, 2)]

    assert [row.live for row in flags.apply(rows)] == [10, 20]


def test_payments_and_disputes_fill_the_registries():
    names = [fn.__module__ for fn in removal_blockers.functions()]

    assert names == ["payments.registrations", "disputes.registrations"]
    assert [fn.__module__ for fn in billable_flags.functions()] == ["payments.registrations"]


def test_a_live_autopay_and_an_open_dispute_both_block_removal_in_that_order():
    company = CompanyFactory()
    plan = BillingPlanFactory(company=company)
    user = MembershipFactory(company=company, role=Role.ADMINISTRATOR).user
    AutoPaySchedule.objects.create(
        company=company,
        plan=plan,
        amount_mode="full",
        timing="days_before_due",
        days_before_due=3,
        start_date=timezone.localdate(),
        consent_at=timezone.now(),
        terms_version="2026-01",
    )
    invoice = InvoiceFactory(account=None, plan=plan)
    Dispute.objects.create(
        reference="D2603REG0001", company=company, invoice=invoice, filed_by=user, status=DisputeStatus.UNDER_REVIEW
    )

    assert billable_removal_blockers(plan) == [
        "AutoPay is set up for it. Cancel AutoPay first.",
        "A dispute of one of its invoices is still open.",
    ]


def test_the_autopay_column_costs_one_query_per_page(django_assert_num_queries):
    company = CompanyFactory()
    accounts = [ShippingAccountFactory(company=company) for _n in range(5)]

    with django_assert_num_queries(1):
        rows = billable_flags.apply(accounts)

    assert [row.autopay_live for row in rows] == [0] * 5
