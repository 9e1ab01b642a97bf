"""One request per confirmed pay form, held in the database (not in Redis, which may be down).

A duplicate of a confirmed pay form (double click, Back and submit again, a second tab) never
works on the attempt a second time and never waits in the server: it goes to the attempt's page,
which shows the attempt in progress until its payments exist. The charge itself is protected by
the idempotency key (tests/payments/test_concurrency.py).
"""

from __future__ import annotations

import datetime
import re
import threading

import pytest
from django.db import connection, connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from payments import services
from payments.models import Payment, PaymentAttemptClaim, PaymentMethod, SimulatedCharge
from tests.accounts.factories import UserFactory

PAY = "/payments/pay/"


def _key(client, invoice) -> str:
    page = client.get(PAY, {"invoice": invoice.number}).content.decode()
    return re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)


@pytest.mark.django_db
def test_a_duplicate_while_the_first_request_works_sees_the_attempt_in_progress(
    login, admin_user, invoice, wallet_card
):
    client = login(admin_user)
    key = _key(client, invoice)
    assert services.attempt_claim(idempotency_key=key, user=admin_user)  # the first request, still working

    duplicate = client.post(
        PAY, {"idempotency_key": key, "invoice": invoice.number, "method": str(wallet_card.id), "when": "today"}
    )
    page = client.get(duplicate["Location"])

    assert duplicate["Location"] == reverse("payments:attempt", args=[key])
    assert page.status_code == 200
    assert 'http-equiv="refresh"' in page.content.decode()
    assert not Payment.objects.exists()
    other = Client()
    other.force_login(UserFactory())
    assert other.get(duplicate["Location"]).status_code == 404  # only the payer's own attempt


@pytest.mark.django_db
def test_a_claim_left_by_a_request_that_died_does_not_block_the_attempt(login, admin_user, invoice, wallet_card):
    client = login(admin_user)
    key = _key(client, invoice)
    PaymentAttemptClaim.objects.create(idempotency_key=key, user=admin_user)
    PaymentAttemptClaim.objects.filter(idempotency_key=key).update(
        created_at=timezone.now() - services.ATTEMPT_CLAIM_TTL - datetime.timedelta(seconds=1)
    )

    response = client.post(
        PAY, {"idempotency_key": key, "invoice": invoice.number, "method": str(wallet_card.id), "when": "today"}
    )

    assert response.status_code == 302
    assert Payment.objects.count() == 1
    assert not PaymentAttemptClaim.objects.exists()  # released when the request answered


@pytest.mark.django_db(transaction=True)
@pytest.mark.needs_postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's concurrency")
def test_many_parallel_submits_of_one_form_charge_once_and_save_the_card_once(admin_user, invoice):
    setup = Client()
    setup.force_login(admin_user)
    key = _key(setup, invoice)
    data = {
        "idempotency_key": key,
        "invoice": invoice.number,
        "method": "new",
        "when": "today",
        "save_to_wallet": "on",
        "new-kind": "credit_card",
        "new-holder_name": "홍길동",
        "new-card_number": "4242424242424242",
        "new-exp_month": "12",
        "new-exp_year": "2031",
        "new-cvc": "123",
    }
    count = 20
    barrier = threading.Barrier(count)
    answers: list = [None] * count

    def submit(index):
        try:
            client = Client()
            client.force_login(admin_user)
            barrier.wait()
            answers[index] = client.post(PAY, data)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert [a.status_code for a in answers] == [302] * count
    assert {a["Location"] for a in answers} == {reverse("payments:attempt", args=[key])}
    assert Payment.objects.count() == 1
    assert SimulatedCharge.objects.count() == 1
    assert PaymentMethod.objects.count() == 1
    assert not PaymentAttemptClaim.objects.exists()
