"""Odd values in the URL itself — path parameters and query strings — never cause a 500."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.test import Client

from tests.security.urlmap import _PARAM, url_patterns

pytestmark = pytest.mark.django_db

ODD = ["\x00", "A\x00B", "9" * 30, "-1", "0", "가" * 60, "x" * 300, "..%2F..%2Fetc", "%", "' OR 1=1 --"]


def test_odd_path_parameters_answer_4xx_never_500(ours):
    client = Client()
    client.force_login(ours.users["administrator"])
    problems = []
    for pattern in url_patterns():
        if not pattern.params or pattern.route.startswith("admin/"):
            continue
        for odd in ODD:
            path = "/" + _PARAM.sub(lambda m, odd=odd: quote(odd, safe="%"), pattern.route)
            try:
                response = client.get(path)
            except Exception as error:  # noqa: BLE001 — the test client re-raises a view's exception
                problems.append(f"{path!r}: {type(error).__name__}: {error}")
                continue
            if response.status_code >= 500:
                problems.append(f"{path!r}: {response.status_code}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "url",
    [
        "/payments/pay/?invoice=%00",
        "/payments/pay/?invoice=A%00B&invoice=%00",
        "/invoices/accounts/?q=%00",
        "/disputes/new/?invoice=A%00",
        "/payments/autopay/new/?account=%00",
        "/payments/autopay/new/?plan=P%00",
        "/payments/history/?status=%00",
        "/payments/wallet/?view=%00&company=%00",
        "/shipments/?tracking=%00",
        "/help/?q=%00",
        "/manage/activity/?user=%00&action=%00",
    ],
)
def test_a_nul_character_in_the_query_string_is_never_a_500(client, ours, url):
    """PostgreSQL refuses to compare text holding NUL (0x00): such values must not reach a query."""
    client.force_login(ours.users["administrator"])
    response = client.get(url)
    assert response.status_code < 500


def test_a_nul_character_in_posted_invoice_numbers_is_never_a_500(client, ours):
    client.force_login(ours.users["payer"])
    assert client.post("/payments/pay/", {"invoice": "\x00"}).status_code < 500
    assert client.post("/payments/pay/", {"invoice": [ours.invoice.number, "A\x00"]}).status_code < 500
    assert client.post("/pay-now/", {"action": "lookup", "account_number": "A\x00"}).status_code < 500
