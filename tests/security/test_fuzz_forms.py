"""Property-based fuzzing (hypothesis) of every public form: whatever is typed, never a 500.

The test client re-raises any exception a view lets escape, so an example that would be a 500
fails the test with its traceback. Each form gets a bounded number of examples (the suite stays
fast); values mix ordinary text, Unicode, NUL and other control characters, huge numbers and
long strings.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,  # the same examples on every run: CI failures reproduce
)

nasty = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=300),
    st.sampled_from(
        [
            "\x00",
            "INV\x00001",
            "9" * 400,
            "-1",
            "1e999",
            "NaN",
            "Infinity",
            "0x10",
            "１２３",  # full-width digits
            "٣",
            "2026-02-30",
            "9999-12-31",
            "0000-00-00",
            "<script>alert(1)</script>",
            "' OR 1=1 --",
            "../../etc/passwd",
            "%00",
            "\ud7ff",
            "청구서 " * 50,
        ]
    ),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
)


def form_data(*names: str):
    return st.fixed_dictionaries({name: nasty for name in names})


def _ok(response):
    assert response.status_code < 500


@FUZZ
@given(data=form_data("login", "password"))
def test_log_in_form(client, data):
    _ok(client.post("/accounts/login/", data))


@FUZZ
@given(data=form_data("username", "email", "password1", "password2"))
def test_sign_up_form(client, data):
    _ok(client.post("/accounts/signup/", data))


@FUZZ
@given(data=form_data("number", "invoice_number", "invoice_date", "amount", "control_id", "company_name", "company"))
def test_enrolment_form(client, ours, data):
    client.force_login(ours.users["payer"])
    _ok(client.post("/enroll/", data))


@FUZZ
@given(data=form_data("account_number", "invoice_number", "amount"))
def test_pay_now_lookup_step(client, data):
    _ok(client.post("/pay-now/", {"action": "lookup", **data}))


@FUZZ
@given(
    data=form_data(
        "kind", "holder_name", "card_number", "exp_month", "exp_year", "cvc", "email", "bank_code", "service"
    ),
    action=st.sampled_from(["details", "confirm", "back", "restart", "", "\x00"]),
)
def test_pay_now_details_and_confirm_steps(client, ours, data, action):
    # Reach the details step with a real invoice, then send anything.
    invoice = ours.invoice
    client.post(
        "/pay-now/",
        {
            "action": "lookup",
            "account_number": invoice.account.number,
            "invoice_number": invoice.number,
            "amount": str(invoice.total),
        },
    )
    _ok(client.post("/pay-now/", {"action": action, **data, "idempotency_key": data["holder_name"]}))


@FUZZ
@given(data=form_data("q", "status", "billable", "sort", "page_size", "page", "date_from", "date_to", "amount_min"))
def test_invoice_table_query_string(client, ours, data):
    client.force_login(ours.users["viewer"])
    _ok(client.get("/invoices/accounts/", data))
    _ok(client.get("/invoices/plans/", data))


@FUZZ
@given(data=form_data("format", "invoice", "select_all", "kind", "query"))
def test_bulk_download_form(client, ours, data):
    client.force_login(ours.users["viewer"])
    _ok(client.post("/invoices/download/", data))


@FUZZ
@given(data=form_data("whole", "whole_reason", "whole_amount", "comment"), line=nasty, amount=nasty)
def test_dispute_filing_form(client, ours, data, line, amount):
    client.force_login(ours.users["payer"])
    first = ours.invoice.lines.order_by("position").first()
    prefix = f"line_{first.id}"
    body = {**data, prefix: line, f"{prefix}_reason": "weight", f"{prefix}_amount": amount}
    _ok(client.post(f"/disputes/new/?invoice={ours.invoice.number}", body))


@FUZZ
@given(
    data=form_data(
        "kind",
        "holder_name",
        "card_number",
        "exp_month",
        "exp_year",
        "cvc",
        "nickname",
        "make_default",
        "account_number",
    )
)
def test_wallet_add_form(client, ours, data):
    client.force_login(ours.users["payer"])
    _ok(client.post("/payments/wallet/add/", data))


@FUZZ
@given(data=form_data("nickname", "exp_month", "exp_year"))
def test_wallet_expiry_edit_form(client, ours, data):
    client.force_login(ours.users["payer"])
    _ok(client.post(f"/payments/wallet/{ours.method.pk}/edit/", data))


@FUZZ
@given(
    data=form_data(
        "method", "amount_mode", "limit_amount", "timing", "days_before_due", "weekday", "until_date", "consent"
    )
)
def test_autopay_form(client, ours, data):
    client.force_login(ours.users["administrator"])
    _ok(client.post(f"/payments/autopay/new/?account={ours.unassigned_account.number}", data))
    _ok(client.post(f"/payments/autopay/{ours.schedule.pk}/edit/", data))


@FUZZ
@given(data=form_data("username", "email", "role", "accounts", "plans"))
def test_user_add_form(client, ours, data):
    client.force_login(ours.users["administrator"])
    _ok(client.post("/manage/users/add/", data))


@settings(FUZZ, max_examples=15)  # each example renders the whole review page
@given(data=form_data("invoice", "method", "when", "pay_on", "idempotency_key", "save_to_wallet"))
def test_one_time_payment_form(client, ours, data):
    client.force_login(ours.users["payer"])
    _ok(client.post("/payments/pay/", data))
