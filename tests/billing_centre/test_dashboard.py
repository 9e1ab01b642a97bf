"""The dashboard `/`: figures over the user's scope only, per currency, in constant queries.

Every expectation is computed here in plain Python over the objects the test created,
never through the selector under test.
"""

from __future__ import annotations

import datetime
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Role
from core.money import format_money
from invoices.models import LineKind
from invoices.selectors import dashboard_summary
from tests.accounts.factories import (
    BillingPlanFactory,
    CompanyFactory,
    MembershipFactory,
    ShippingAccountFactory,
    UserFactory,
)
from tests.invoices.factories import InvoiceFactory, InvoiceLineFactory

pytestmark = pytest.mark.django_db

# 2026-11-27 10:00 in Seoul (01:00 UTC): "today" for every test in this module.
NOW_SEOUL = datetime.datetime(2026, 11, 27, 1, 0, tzinfo=datetime.UTC)
TODAY = datetime.date(2026, 11, 27)
# The chart's 12 months, written out by hand: Dec 2025 … Nov 2026.
CHART_MONTHS = [datetime.date(2025, 12, 1)] + [datetime.date(2026, m, 1) for m in range(1, 12)]


@pytest.fixture(autouse=True)
def _frozen_today():
    with time_machine.travel(NOW_SEOUL, tick=False):
        yield


@dataclass
class Made:
    """What the test built, kept in Python to compute expectations independently."""

    invoices: dict = field(default_factory=lambda: defaultdict(list))  # billable → [Invoice]
    late_fees: dict = field(default_factory=dict)  # invoice number → Decimal


def _make_invoices(made: Made, billable, *, scale: Decimal) -> None:
    """A spread of invoices for one account or plan: open, past due, due soon, paid, credit, old."""
    is_plan = billable.__class__.__name__ == "BillingPlan"
    owner = {"plan": billable, "account": None} if is_plan else {"account": billable}
    d = datetime.timedelta
    specs = [
        # (invoice date, due date, total, amount paid, late fee)
        (TODAY - d(60), TODAY - d(30), 300, 0, Decimal("12")),  # past due, late fee this year
        (TODAY - d(45), TODAY - d(15), 250, 100, None),  # past due, partly paid
        (TODAY - d(25), TODAY, 90, 0, None),  # due today: due soon, not past due
        (TODAY - d(20), TODAY + d(3), 120, 0, None),  # due soon
        (TODAY - d(23), TODAY + d(7), 70, 0, None),  # due on the 7th day: due soon
        (TODAY - d(22), TODAY + d(8), 80, 0, None),  # due later
        (TODAY - d(10), TODAY + d(20), 60, 60, None),  # paid
        (TODAY - d(5), TODAY + d(25), -40, 0, None),  # credit note
        (datetime.date(2026, 1, 5), datetime.date(2026, 2, 4), 110, 110, Decimal("7")),  # paid, fee this year
        (datetime.date(2025, 12, 10), datetime.date(2026, 1, 9), 130, 130, Decimal("9")),  # fee last year
        (datetime.date(2025, 11, 20), datetime.date(2025, 12, 20), 140, 140, None),  # before the chart
    ]
    for invoice_date, due_date, total, paid, late_fee in specs:
        invoice = InvoiceFactory(
            **owner,
            invoice_date=invoice_date,
            due_date=due_date,
            currency=billable.currency,
            total=Decimal(total) * scale,
            amount_paid=Decimal(paid) * scale,
        )
        made.invoices[billable].append(invoice)
        InvoiceLineFactory(invoice=invoice, kind=LineKind.SHIPMENT, amount=Decimal(total) * scale)
        if late_fee is not None:
            InvoiceLineFactory(
                invoice=invoice, kind=LineKind.LATE_FEE, description="연체 요금", amount=late_fee * scale
            )
            made.late_fees[invoice.number] = late_fee * scale


@pytest.fixture
def world():
    """Two companies; company A has two KRW accounts, one USD account and a KRW plan."""
    made = Made()
    company_a = CompanyFactory()
    company_b = CompanyFactory()
    seoul = ShippingAccountFactory(company=company_a, currency="KRW")
    busan = ShippingAccountFactory(company=company_a, currency="KRW")
    usa = ShippingAccountFactory(company=company_a, currency="USD", country="US")
    plan = BillingPlanFactory(company=company_a, currency="KRW")
    other = ShippingAccountFactory(company=company_b, currency="KRW")
    _make_invoices(made, seoul, scale=Decimal(1000))
    _make_invoices(made, busan, scale=Decimal(1300))
    _make_invoices(made, usa, scale=Decimal("1.25"))
    _make_invoices(made, plan, scale=Decimal(2000))
    _make_invoices(made, other, scale=Decimal(1700))

    def member(role, **scope):
        user = UserFactory()
        MembershipFactory(user=user, company=company_a, role=role, **scope)
        return user

    users = {
        "administrator": member(Role.ADMINISTRATOR),
        "manager": member(Role.MANAGER, accounts=[seoul], plans=[plan]),
        "payer": member(Role.PAYER, accounts=[usa]),
        "viewer": member(Role.VIEWER, accounts=[busan]),
    }
    outsider = UserFactory()
    MembershipFactory(user=outsider, company=company_b, role=Role.ADMINISTRATOR)
    users["outsider"] = outsider
    scopes = {
        "administrator": [seoul, busan, usa, plan],
        "manager": [seoul, plan],
        "payer": [usa],
        "viewer": [busan],
        "outsider": [other],
    }
    return made, users, scopes


def _expected(made: Made, billables) -> dict:
    """Figures per currency, computed from the created objects only."""
    figures: dict[str, dict] = {}
    chart: dict[str, dict] = {}
    soon_until = TODAY + datetime.timedelta(days=7)
    for billable in billables:
        for inv in made.invoices[billable]:
            f = figures.setdefault(
                inv.currency,
                {"total_due": Decimal(0), "past_due": Decimal(0), "due_soon": Decimal(0), "late": Decimal(0)},
            )
            owed = inv.total - inv.amount_paid
            if owed > 0:
                f["total_due"] += owed
                if inv.due_date < TODAY:
                    f["past_due"] += owed
                elif inv.due_date <= soon_until:
                    f["due_soon"] += owed
            if inv.invoice_date.year == TODAY.year:
                f["late"] += made.late_fees.get(inv.number, Decimal(0))
            month = inv.invoice_date.replace(day=1)
            if month in CHART_MONTHS:
                series = chart.setdefault(inv.currency, dict.fromkeys(CHART_MONTHS, Decimal(0)))
                series[month] += inv.total
    return {"figures": figures, "chart": chart}


def _all_invoices(made, billables):
    return [inv for b in billables for inv in made.invoices[b]]


def _page_figures(html: str) -> dict[tuple[str, str], str]:
    pattern = re.compile(
        r'data-figure="(\w+)" data-currency="(\w+)">\s*<dt>.*?</dt>\s*<dd class="stat__value">(.*?)</dd>',
        re.S,
    )
    return {(figure, currency): value.strip() for figure, currency, value in pattern.findall(html)}


ROLES = ["administrator", "manager", "payer", "viewer", "outsider"]


@pytest.mark.parametrize("role", ROLES)
def test_dashboard_figures_match_an_independent_computation_per_currency(world, role, client):
    made, users, scopes = world
    expected = _expected(made, scopes[role])
    client.force_login(users[role])

    response = client.get(reverse("dashboard"))

    assert response.status_code == 200
    shown = _page_figures(response.content.decode())
    names = {"total_due": "total_due", "past_due": "past_due", "due_soon": "due_soon", "late_fees_year": "late"}
    want = {
        (figure, currency): format_money(values[key], currency)
        for currency, values in expected["figures"].items()
        for figure, key in names.items()
    }
    assert shown == want


@pytest.mark.parametrize("role", ROLES)
def test_dashboard_summary_chart_is_billed_totals_per_month_per_currency(world, role):
    made, users, scopes = world
    expected = _expected(made, scopes[role])["chart"]

    summary = dashboard_summary(user=users[role], today=TODAY)

    got = {series.currency: dict(series.points) for series in summary.charts}
    assert got == expected
    for series in summary.charts:
        assert [month for month, _amount in series.points] == CHART_MONTHS


@pytest.mark.parametrize("role", ROLES)
def test_dashboard_recent_invoices_are_the_latest_eight_in_scope(world, role, client):
    made, users, scopes = world
    mine = _all_invoices(made, scopes[role])
    latest = sorted(mine, key=lambda i: (i.invoice_date, i.number), reverse=True)[:8]
    client.force_login(users[role])

    html = client.get(reverse("dashboard")).content.decode()

    for invoice in latest:
        assert reverse("invoices:detail", args=[invoice.number]) in html
    others = [inv for inv in _all_invoices(made, made.invoices.keys()) if inv not in mine]
    assert others, "every role must have invoices outside its scope"
    for invoice in others:
        assert invoice.number not in html
    older = [inv for inv in mine if inv not in latest]
    for invoice in older:
        assert invoice.number not in html


def test_a_user_of_another_company_never_sees_its_invoice_numbers(world, client):
    made, users, scopes = world
    client.force_login(users["outsider"])

    html = client.get(reverse("dashboard")).content.decode()

    for invoice in _all_invoices(made, scopes["administrator"]):
        assert invoice.number not in html


def test_krw_and_usd_figures_are_never_added_together(world, client):
    made, users, scopes = world
    client.force_login(users["administrator"])

    shown = _page_figures(client.get(reverse("dashboard")).content.decode())

    assert {currency for _figure, currency in shown} == {"KRW", "USD"}
    assert shown[("total_due", "USD")].startswith("$")
    assert shown[("total_due", "KRW")].startswith("₩")


def test_dashboard_has_a_pay_button_linking_to_payments(world, client):
    _made, users, _scopes = world
    client.force_login(users["payer"])

    response = client.get(reverse("dashboard"))

    assert f'href="{reverse("payments:pay")}"' in response.content.decode()


def test_user_without_membership_sees_an_empty_dashboard_pointing_to_enrol(client):
    client.force_login(UserFactory())

    response = client.get(reverse("dashboard"))

    assert response.status_code == 200
    html = response.content.decode()
    assert f'href="{reverse("enroll")}"' in html
    assert "data-figure" not in html
    assert response.context["summary"].has_membership is False


def test_anonymous_visitor_gets_the_landing_page_with_log_in_and_pay_now(client):
    response = client.get(reverse("dashboard"))

    assert response.status_code == 200
    assert [t.name for t in response.templates][0] == "landing.html"
    html = response.content.decode()
    assert f'href="{reverse("account_login")}"' in html
    assert f'href="{reverse("pay_now")}"' in html
    assert f'href="{reverse("enroll")}"' in html


def test_late_fees_follow_the_calendar_year_in_seoul():
    """At 01:30 on 1 January in Seoul it is still 31 December in UTC: the year is already 2027."""
    company = CompanyFactory()
    account = ShippingAccountFactory(company=company)
    user = UserFactory()
    MembershipFactory(user=user, company=company, role=Role.ADMINISTRATOR)
    old = InvoiceFactory(account=account, invoice_date=datetime.date(2026, 12, 31))
    new = InvoiceFactory(account=account, invoice_date=datetime.date(2027, 1, 1))
    InvoiceLineFactory(invoice=old, kind=LineKind.LATE_FEE, amount=Decimal(3000))
    InvoiceLineFactory(invoice=new, kind=LineKind.LATE_FEE, amount=Decimal(7000))

    from django.test import Client

    client = Client()
    with time_machine.travel(datetime.datetime(2026, 12, 31, 16, 30, tzinfo=datetime.UTC), tick=False):
        client.force_login(user)
        response = client.get(reverse("dashboard"))

    assert response.context["summary"].today == datetime.date(2027, 1, 1)
    assert _page_figures(response.content.decode())[("late_fees_year", "KRW")] == "₩7,000"


def _count_dashboard_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    return len(queries)


def test_dashboard_query_count_does_not_grow_with_invoices(client, django_assert_max_num_queries):
    company = CompanyFactory()
    krw = ShippingAccountFactory(company=company, currency="KRW")
    usd = ShippingAccountFactory(company=company, currency="USD")
    user = UserFactory()
    MembershipFactory(user=user, company=company, role=Role.ADMINISTRATOR)
    client.force_login(user)
    for account in (krw, usd):
        InvoiceFactory(account=account, invoice_date=TODAY - datetime.timedelta(days=3))
    few = _count_dashboard_queries(client)

    for n in range(40):
        account = krw if n % 2 else usd
        invoice = InvoiceFactory(account=account, invoice_date=TODAY - datetime.timedelta(days=9 * n))
        InvoiceLineFactory(invoice=invoice, kind=LineKind.LATE_FEE, amount=Decimal(500))
    many = _count_dashboard_queries(client)

    assert many == few
    with django_assert_max_num_queries(12):
        client.get(reverse("dashboard"))
