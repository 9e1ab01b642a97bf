"""Card data (DESIGN.md quality bar, SECURITY.md): after a card is typed into every form that takes
one, neither its number (bare, spaced or dashed) nor its CVC is anywhere in the database — a real
``pg_dump`` of the whole test database, with the sessions and the fallback cache table decoded —
nor in the logs (every logger at DEBUG, every SQL statement included), the e-mails or the pages.

The forms that take card details: Pay Now's details step, the one-time payment with a new card
(paid now, saved to the wallet, or saved and scheduled for later) and the wallet's *Add*. AutoPay and the
profile's payment options take a wallet card, never card details: the last test reads every
rendered form of the URL conf (the fuzz test's discovery) and fails on a new form with a card field.

Each form gets its own card number and four-digit CVC, so a failure names the form. A CVC is only
four digits; card_leaks.cvc_hits() says what it looks past (key columns, sequence positions) and
why. A canary written straight into a text column proves the search finds what it looks for.
"""

from __future__ import annotations

import datetime
import logging
import re
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from invoices.models import Invoice
from payments.models import Payment, PaymentMethod, PaymentStatus
from tests.invoices.factories import InvoiceFactory
from tests.security.card_leaks import (
    cvc_hits,
    database_dump,
    log_cvc_hits,
    luhn_complete,
    number_hits,
    spellings,
)

# pg_dump reads through its own connection: the rows must be committed. Sequences start at 1, so
# no id reaches the four-digit CVCs below (see card_leaks.cvc_hits).
pytestmark = [pytest.mark.needs_postgres, pytest.mark.django_db(transaction=True, reset_sequences=True)]

# form -> (card number, CVC); all numbers pass the Luhn check, so the gateway accepts them.
CARDS = {
    "wallet add": (luhn_complete("491730582641937"), "7391"),
    "one-time payment": (luhn_complete("491762038519264"), "8263"),
    "one-time payment, saved to the wallet": (luhn_complete("491785294016372"), "5927"),
    "one-time payment, scheduled": (luhn_complete("491709461835827"), "6184"),
    "Pay Now": (luhn_complete("491748305916283"), "3846"),
}
DECLINED = ("4000000000000002", "2957")  # the simulated gateway's "card declined" number (Pay Now)
REFUSED = ("4917305826419370", "9472")  # fails the Luhn check: the wallet form refuses it


def _invoice(ours, number: str) -> Invoice:
    today = timezone.localdate()
    return InvoiceFactory(
        account=ours.account,
        number=number,
        control_id=f"CT{number[-6:]}",
        invoice_date=today - datetime.timedelta(days=3),
        due_date=today + datetime.timedelta(days=20),
        total=Decimal("33000"),
    )


def _pay_once(client, invoice, card, *, extra=None):
    page = client.get("/payments/pay/", {"invoice": invoice.number})
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page.content.decode()).group(1)
    number, cvc = card
    response = client.post(
        "/payments/pay/",
        {
            "idempotency_key": key,
            "invoice": invoice.number,
            "method": "new",
            "when": "today",
            "new-kind": "credit_card",
            "new-holder_name": "홍길동",
            "new-card_number": number,
            "new-exp_month": "11",
            "new-exp_year": str(timezone.localdate().year + 4),
            "new-cvc": cvc,
            **(extra or {}),
        },
    )
    errors = re.findall(r'class="errorlist[^>]*>(.*?)</ul>', response.content.decode(), re.S)
    assert response.status_code == 302, errors
    return response


def _pay_now(client, invoice, card, *, typed: str):
    number, cvc = card
    client.post("/pay-now/", {"action": "restart"})
    client.post(
        "/pay-now/",
        {
            "action": "lookup",
            "account_number": invoice.account.number,
            "invoice_number": invoice.number,
            "amount": str(invoice.total),
        },
    )
    details = client.get("/pay-now/")
    assert details.context["step"] == "details"
    client.post(
        "/pay-now/",
        {
            "action": "details",
            "pm-kind": "credit_card",
            "pm-holder_name": "김철수",
            "pm-card_number": typed,
            "pm-exp_month": "10",
            "pm-exp_year": str(timezone.localdate().year + 3),
            "pm-cvc": cvc,
            "pm-email": "payer@example.com",
        },
    )
    review = client.get("/pay-now/")
    assert review.context["step"] == "review", review.content.decode()[:2000]
    key = review.context["form"].initial["idempotency_key"]
    return client.post("/pay-now/", {"action": "confirm", "idempotency_key": key})


def test_no_card_number_or_cvc_in_the_database_the_logs_the_mails_or_the_pages(client, ours, caplog):
    caplog.set_level(logging.DEBUG)  # every logger, every level: those with a level of their own too
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger) and logger.level > logging.DEBUG:
            caplog.set_level(logging.DEBUG, logger=name)
    connection.force_debug_cursor = True  # and every SQL statement with its parameters
    pages: list[str] = []
    try:
        client.force_login(ours.users["payer"])
        # The wallet: a card typed in groups of four with spaces.
        number, cvc = CARDS["wallet add"]
        wallet_form = {
            "kind": "credit_card",
            "holder_name": "홍길동",
            "card_number": spellings(number)[1],
            "exp_month": "11",
            "exp_year": str(timezone.localdate().year + 5),
            "cvc": cvc,
            "nickname": "새 카드",
        }
        assert client.post("/payments/wallet/add/", wallet_form).status_code == 302
        # A number the form refuses comes back with an error, and is not echoed.
        refused = client.post("/payments/wallet/add/", {**wallet_form, "card_number": REFUSED[0], "cvc": REFUSED[1]})
        assert refused.status_code == 200 and refused.context["form"].errors
        pages.append(refused.content.decode())
        # One-time payments with a new card: paid now; saved to the wallet; scheduled for later.
        _pay_once(client, ours.invoice, CARDS["one-time payment"])
        _pay_once(
            client, ours.plan_invoice, CARDS["one-time payment, saved to the wallet"], extra={"save_to_wallet": "on"}
        )
        later = _invoice(ours, "INVA00000021")
        pay_on = later.due_date - datetime.timedelta(days=2)
        scheduled = {"when": "later", "pay_on": pay_on.isoformat(), "save_to_wallet": "on"}  # needs a wallet card
        _pay_once(client, later, CARDS["one-time payment, scheduled"], extra=scheduled)
        client.logout()
        # Pay Now, anonymous: a declined card first, then a card typed with dashes, paid.
        pay_now_invoice = _invoice(ours, "INVA00000022")
        _pay_now(client, pay_now_invoice, DECLINED, typed=DECLINED[0])
        number, cvc = CARDS["Pay Now"]
        done = _pay_now(client, pay_now_invoice, CARDS["Pay Now"], typed=spellings(number)[2])
        assert done.status_code == 302
        pages.append(client.get("/pay-now/").content.decode())
    finally:
        connection.force_debug_cursor = False

    # Every form did its work: what may be kept (token, brand, last four, expiry) was kept.
    wallet = PaymentMethod.objects.filter(company=ours.company)
    assert wallet.filter(last4=CARDS["wallet add"][0][-4:], nickname="새 카드").exists()
    assert wallet.filter(last4=CARDS["one-time payment, saved to the wallet"][0][-4:]).exists()
    assert wallet.filter(last4=CARDS["one-time payment, scheduled"][0][-4:]).exists()
    payments = Payment.objects.exclude(pk=ours.payment.pk)
    assert payments.filter(status=PaymentStatus.SUCCEEDED).count() == 3  # once, saved, Pay Now
    assert payments.filter(status=PaymentStatus.SCHEDULED).count() == 1
    assert payments.filter(status=PaymentStatus.FAILED).count() == 1  # the declined Pay Now card
    assert Invoice.objects.get(pk=pay_now_invoice.pk).status == "paid"

    dump = database_dump()
    logs = caplog.text
    mails = "\n".join(f"{m.subject}\n{m.body}" for m in mail.outbox)
    assert "INSERT INTO" in logs  # the SQL statements really were captured
    secrets = {**CARDS, "declined Pay Now card": DECLINED, "refused wallet card": REFUSED}
    found = []
    for form, (number, cvc) in secrets.items():
        for where, text in (("database", dump), ("logs", logs), ("e-mails", mails), ("pages", "\n".join(pages))):
            found += [f"{form}: card number in the {where}: …{hit}…" for hit in number_hits(text, number)]
        found += [f"{form}: CVC in the database: {hit}" for hit in cvc_hits(dump, cvc)]
        found += [f"{form}: CVC in the logs: {hit}" for hit in log_cvc_hits(logs, cvc)]
        found += [f"{form}: CVC in the e-mails: {hit}" for hit in log_cvc_hits(mails, cvc)]
    assert not found, "\n".join(found)
    for form in CARDS:
        assert re.search(rf"\b{CARDS[form][0][-4:]}\b", dump), f"{form}: its last four digits are not in the dump"


def test_the_dump_search_finds_a_card_number_and_a_cvc_that_were_kept(ours):
    """The canary: the same search over the same kind of dump finds a number and a CVC in a text
    column, and in the decoded session too."""
    from django.contrib.sessions.backends.db import SessionStore

    number, cvc = luhn_complete("491799912345678"), "6027"
    PaymentMethod.objects.filter(pk=ours.method.pk).update(nickname=f"{spellings(number)[1]} / cvc {cvc}")
    session = SessionStore()
    session["pay_now"] = {"cvc": "5316", "card": spellings(number)[2]}
    session.create()

    dump = database_dump()

    assert number_hits(dump, number)
    assert any("payments_paymentmethod.nickname" in hit for hit in cvc_hits(dump, cvc))
    assert cvc_hits(dump, "5316")  # only in the decoded session


def test_every_form_that_takes_card_details_is_typed_into_above(ours, theirs):
    """A new form with a card number or CVC field (say AutoPay with a new card, or the payment
    options taking card details) fails here until the test above types a card into it too."""
    from tests.security.test_fuzz_forms import discover

    takes_card = {
        target.view_name
        for target in discover(ours, theirs)
        if any(name.endswith(("card_number", "cvc")) for name in target.form.fields)
    }

    # Pay Now's details step is behind its look-up (typed into above); these are the others.
    assert takes_card == {"payments:pay", "payments:wallet_add"}
