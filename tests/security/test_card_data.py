"""Card data: after card numbers pass through every form that takes one (wallet add, a one-time
payment, Pay Now), neither the number (in any spacing) nor the CVC is in the database — a real
``pg_dump`` of every table on PostgreSQL, ``dumpdata`` plus sessions elsewhere — or in the logs.
tests/payments/test_secrets.py covers the payment paths in detail; this adds the wallet, spaced
input and the whole-database dump."""

from __future__ import annotations

import io
import logging
import os
import re
import shutil
import subprocess

import pytest
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.db import connection

from payments.models import Payment, PaymentMethod

pytestmark = pytest.mark.django_db(transaction=True)

CARD = "4242424242424242"
SPACED = "4242 4242 4242 4242"
CVC = "8357"


def _database_text() -> str:
    settings = connection.settings_dict
    if connection.vendor == "postgresql" and shutil.which("pg_dump"):
        env = {**os.environ, "PGPASSWORD": settings.get("PASSWORD") or ""}
        result = subprocess.run(
            [
                "pg_dump",
                "--data-only",
                "-h",
                settings.get("HOST") or "127.0.0.1",
                "-p",
                str(settings.get("PORT") or 5432),
                "-U",
                settings.get("USER") or "postgres",
                settings["NAME"],
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout
    dump = io.StringIO()
    call_command("dumpdata", stdout=dump)
    return dump.getvalue() + "".join(str(s.get_decoded()) for s in Session.objects.all())


def _absent(text: str, secret: str) -> bool:
    return re.search(rf"(?<![0-9A-Za-z]){secret}(?![0-9A-Za-z])", text) is None


def test_no_card_number_or_cvc_in_the_database_dump_or_the_logs(client, ours, caplog, settings):
    caplog.set_level(logging.DEBUG)
    client.force_login(ours.users["payer"])
    # The wallet: a card typed with spaces, saved.
    client.post(
        "/payments/wallet/add/",
        {
            "kind": "credit_card",
            "holder_name": "홍길동",
            "card_number": SPACED,
            "exp_month": "11",
            "exp_year": "2032",
            "cvc": CVC,
            "nickname": "새 카드",
        },
    )
    # A one-time payment with a new card.
    page = client.get("/payments/pay/", {"invoice": ours.invoice.number})
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page.content.decode()).group(1)
    client.post(
        "/payments/pay/",
        {
            "idempotency_key": key,
            "invoice": ours.invoice.number,
            "method": "new",
            "when": "today",
            "new-kind": "credit_card",
            "new-holder_name": "홍길동",
            "new-card_number": CARD,
            "new-exp_month": "12",
            "new-exp_year": "2031",
            "new-cvc": CVC,
        },
    )
    # A refused attempt (a bad CVC length) goes through the form errors and the logs too.
    client.post("/payments/wallet/add/", {"kind": "credit_card", "card_number": CARD, "cvc": CVC + "99"})
    client.logout()
    # Pay Now, anonymous.
    client.post(
        "/pay-now/",
        {
            "action": "lookup",
            "account_number": ours.account.number,
            "invoice_number": ours.plan_invoice.number,
            "amount": "55000",
        },
    )

    assert PaymentMethod.objects.filter(last4="4242", nickname="새 카드").exists()
    assert Payment.objects.filter(status="succeeded").count() >= 2
    everything = _database_text()
    for secret in (CARD, SPACED):
        assert secret not in everything
        assert secret not in caplog.text
    assert _absent(everything, CVC) and _absent(everything, CVC + "99")
    assert _absent(caplog.text, CVC)
    assert "4242" in everything  # what may be kept is kept: the last four digits
