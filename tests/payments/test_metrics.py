"""Payment metrics (core.metrics) seen where Prometheus sees them, at ``/metrics``: payments by
outcome move once a payment's final status is committed; an AutoPay run records its duration and
its counts."""

from __future__ import annotations

import datetime

import pytest
from django.test import TestCase
from prometheus_client.parser import text_string_to_metric_families

from payments import autopay
from payments.models import AutoPaySchedule, Payment, PaymentStatus
from tests.invoices.factories import InvoiceFactory

from .test_autopay import at
from .test_views import PAY, review_key

pytestmark = pytest.mark.django_db

TOKEN = "scrape-token-payments-0001"


@pytest.fixture(autouse=True)
def _metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN


def scrape(client) -> dict[tuple, float]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def paid(body, outcome="succeeded") -> float:
    return body.get(("bc_payments_final_total", frozenset({("outcome", outcome)})), 0.0)


def test_a_real_payment_moves_the_counter_of_payments_by_outcome(client, admin_user, invoice, wallet_card):
    before = paid(scrape(client))
    client.force_login(admin_user)
    key = review_key(client.get(PAY, {"invoice": invoice.number}))

    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(
            PAY, {"idempotency_key": key, "invoice": invoice.number, "method": str(wallet_card.id), "when": "today"}
        )

    assert response.status_code == 302
    assert Payment.objects.get().status == PaymentStatus.SUCCEEDED
    assert paid(scrape(client)) == before + 1


def test_a_change_rolled_back_is_not_counted(client, admin_user, invoice, wallet_card):
    """The same payment attempted without its commit running (its transaction never committed)."""
    before = paid(scrape(client))
    client.force_login(admin_user)
    key = review_key(client.get(PAY, {"invoice": invoice.number}))

    # pytest-django's test transaction is never committed: without the on-commit callbacks run,
    # the payment's success is not counted, as after a rollback.
    client.post(
        PAY, {"idempotency_key": key, "invoice": invoice.number, "method": str(wallet_card.id), "when": "today"}
    )

    assert Payment.objects.get().status == PaymentStatus.SUCCEEDED
    assert paid(scrape(client)) == before


def test_an_autopay_run_records_its_duration_and_counts(client, admin_user, account, wallet_card):
    start = datetime.date(2026, 3, 2)
    with at(start, hour=10):
        autopay.autopay_create(
            actor=admin_user,
            billable=account,
            method=wallet_card,
            amount_mode=AutoPaySchedule.AmountMode.FULL,
            limit_amount=None,
            timing=AutoPaySchedule.Timing.DAYS_BEFORE_DUE,
            days_before_due=3,
            weekday=None,
            until_date=None,
            consent=True,
        )
    InvoiceFactory(account=account, number="INV000000901", invoice_date=start, due_date=datetime.date(2026, 3, 12))
    before = scrape(client)

    with at(datetime.date(2026, 3, 9)), TestCase.captureOnCommitCallbacks(execute=True):
        counts = autopay.autopay_run()

    after = scrape(client)
    assert counts["paid"] == 1
    runs = ("bc_autopay_run_duration_seconds_count", frozenset())
    assert after[runs] == before.get(runs, 0) + 1
    outcome = ("bc_autopay_run_outcomes_total", frozenset({("outcome", "paid")}))
    assert after[outcome] == before.get(outcome, 0) + 1
    assert paid(after) == paid(before) + 1
