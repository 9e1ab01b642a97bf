"""Two payments of the same invoice at the same moment make one charge (PostgreSQL row locks)."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections

from core.exceptions import ApplicationError
from payments import services
from payments.models import Payment, SimulatedCharge

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.needs_postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite has no row locks (select_for_update is a no-op): run with DATABASE_URL=postgres://…",
    ),
]


def race(user, invoice, method, keys):
    barrier = threading.Barrier(len(keys))
    results: list = [None] * len(keys)

    def run(index, key):
        try:
            barrier.wait()
            results[index] = services.payment_create(
                actor=user,
                invoice_ids=[invoice.id],
                source=services.PaymentSource.from_method(method),
                idempotency_key=key,
            )
        except ApplicationError as exc:
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, key)) for i, key in enumerate(keys)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_two_attempts_on_the_same_invoice_at_once_charge_once(admin_user, invoice, wallet_card):
    results = race(admin_user, invoice, wallet_card, ["tab-one", "tab-two"])

    assert sum(isinstance(r, ApplicationError) for r in results) == 1
    assert Payment.objects.count() == 1
    assert SimulatedCharge.objects.count() == 1
    invoice.refresh_from_db()
    assert invoice.amount_paid == Decimal("13000")


def test_the_same_key_twice_at_once_makes_one_payment(admin_user, invoice, wallet_card):
    results = race(admin_user, invoice, wallet_card, ["double-click", "double-click"])

    assert all(not isinstance(r, ApplicationError) for r in results)
    assert {r.payments[0].id for r in results} == {Payment.objects.get().id}
    assert SimulatedCharge.objects.count() == 1
