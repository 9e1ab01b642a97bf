"""Every payment page answers ``Cache-Control: no-store`` (issue 13, Doors).

A logged-in Payer (and the Administrator, who also reaches AutoPay) of company A opens every URL pattern of the payments app, the payment options
in the profile and Pay Now, filled with A's objects (tests/security/world.py), plus the pages that
need a query (the review of a payment, a new AutoPay) and a form shown again with its errors.
Every 200 must carry ``no-store``: a shared computer's browser cache or back button, or a proxy,
must not keep invoices, receipts or the wallet after log-out.
"""

from __future__ import annotations

import pytest

from tests.security.urlmap import fill, url_patterns

pytestmark = pytest.mark.django_db

# The pages each role must reach with 200 (the crawl would prove nothing if they redirected away).
PAYER_ANSWERS = {
    "payments:pay",
    "payments:pay (review)",
    "payments:receipt",
    "payments:receipt_pdf",
    "payments:history",
    "payments:wallet",
    "payments:wallet_add",
    "payments:wallet_add (errors)",
    "payments:wallet_edit",
    "payments:wallet_delete",
    "payments:autopay",
    "payment_options",
    "pay_now",
}
MUST_ANSWER = {
    "payer": PAYER_ANSWERS,
    # AutoPay is set up by Administrators and Managers (DESIGN.md, Roles).
    "administrator": PAYER_ANSWERS | {"payments:autopay_create (account)", "payments:autopay_edit"},
}


def payment_urls(ours) -> list[tuple[str, str]]:
    urls = [
        (pattern.name, fill(pattern, ours))
        for pattern in url_patterns()
        if pattern.name.startswith("payments:") or pattern.name in {"payment_options", "pay_now"}
    ]
    urls += [
        ("payments:pay (review)", f"/payments/pay/?invoice={ours.invoice.number}"),
        ("payments:autopay_create (account)", f"/payments/autopay/new/?account={ours.account.number}"),
    ]
    return urls


@pytest.mark.parametrize("role", ["payer", "administrator"])
def test_every_payment_page_is_no_store_when_logged_in(client, ours, role):
    client.force_login(ours.users[role])
    answered, missing = set(), []

    for name, url in payment_urls(ours):
        response = client.get(url)
        assert response.status_code < 500, (name, url, response.status_code)
        if response.status_code == 200:
            answered.add(name)
            if "no-store" not in response.get("Cache-Control", ""):
                missing.append(name)
    response = client.post("/payments/wallet/add/", {"kind": "credit_card", "card_number": "1234"})
    assert response.status_code == 200
    answered.add("payments:wallet_add (errors)")
    if "no-store" not in response.get("Cache-Control", ""):
        missing.append("payments:wallet_add (errors)")

    assert MUST_ANSWER[role] <= answered, MUST_ANSWER[role] - answered
    assert missing == []


def test_the_redirects_of_payment_pages_are_no_store_too(client, ours):
    """A redirect can carry a receipt's address; it is not cached either."""
    client.force_login(ours.users["administrator"])

    for url in ("/payments/", f"/payments/pay/{ours.attempt_key}/"):
        response = client.get(url)
        assert response.status_code == 302
        assert "no-store" in response["Cache-Control"]
