"""Property-based fuzzing (hypothesis) of every form: whatever is typed, never a 500.

The forms are not listed here; they are found. Every URL pattern of the project (tests/security/
urlmap.py, less Django's own admin) is requested as the anonymous visitor and as each role of a
company with one object of every kind (tests/security/world.py); every ``<form method="post">`` a
page renders is read (its action and field names, tests/security/form_fuzz.py) and fuzzed once,
as the first of anonymous, Administrator, Manager, Payer, Viewer that sees it. A new page with a
form is fuzzed without a change here. Later steps of multi-step flows (Pay Now's payment details,
review and receipt e-mail, the enrolment access request) are reached by really doing the steps
before them in every example, and the test asserts each was reached.

Each example runs in a savepoint that is rolled back, with every cache emptied first (the Django
caches and the database fallback cache table): an example starts from the same state, with no
rate-limit counter or lock-out carried over from the one before. The test client has no CSRF
check and re-raises any exception a view lets escape, so an example that would be a 500 fails with
its traceback. Values mix what the page offers (hidden values, options) with ordinary text,
Unicode, NUL and other control characters, huge numbers and long strings.

Examples per form: ``BC_FUZZ_EXAMPLES`` (15 by default, 60 in CI: .ci/run sets it).
"""

from __future__ import annotations

import os
import re
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.core.cache import caches
from django.db import transaction
from django.test import Client
from django.urls import Resolver404, resolve
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.models import CacheEntry
from tests.security.form_fuzz import Form, field_values, nasty, post_forms
from tests.security.urlmap import fill, url_patterns

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("BC_FUZZ_EXAMPLES", "15"))

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,  # the same examples on every run: CI failures reproduce
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)

ROLES = ("anonymous", "administrator", "manager", "payer", "viewer")  # the first that sees a form fuzzes it
# Pages that show their form only for a query string the page a user comes from adds.
ENTRY_QUERY: dict[str, Callable] = {
    "payments:pay": lambda side: {"invoice": side.invoice.number},
    "disputes:file": lambda side: {"invoice": side.invoice.number},
    "payments:autopay_create": lambda side: {"account": side.unassigned_account.number},
    "payment_options": lambda side: {"edit": side.account.number},
}
# Forms the discovery must find: if it does not, it is broken (a lost session, a changed page),
# not the forms gone. A superset is fine; every found form is fuzzed.
MUST_FIND = {
    "account_login",
    "account_signup",
    "account_reset_password",
    "set_language",
    "pay_now",
    "enroll",
    "enroll_new_account",
    "invoices:bulk_download",
    "payments:pay",
    "payments:wallet_add",
    "payments:wallet_edit",
    "payments:wallet_delete",
    "payments:autopay_create",
    "payments:autopay_edit",
    "payments:autopay_pause",
    "payment_options",
    "disputes:file",
    "disputes:message",
    "disputes:withdraw",
    "manage:account_add",
    "manage:user_add",
    "manage:user_invite",
    "manage:user_edit",
    "manage:invitation_resend",
}


# --- Multi-step flows: each example does the earlier steps for real, then fuzzes the later one. ---


def _pay_now_details(client, ours, theirs):
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
    page = client.get("/pay-now/")
    assert page.context["step"] == "details", "Pay Now's details step was not reached"
    return page


def _pay_now_review(client, ours, theirs):
    _pay_now_details(client, ours, theirs)
    card = {"pm-card_number": "4242424242424242", "pm-cvc": "123", "pm-exp_month": "12", "pm-exp_year": "2031"}
    client.post("/pay-now/", {"action": "details", "pm-kind": "credit_card", "pm-holder_name": "김철수", **card})
    page = client.get("/pay-now/")
    assert page.context["step"] == "review", "Pay Now's review step was not reached"
    return page


def _pay_now_done(client, ours, theirs):
    review = _pay_now_review(client, ours, theirs)
    client.post(
        "/pay-now/", {"action": "confirm", "idempotency_key": review.context["form"].initial["idempotency_key"]}
    )
    page = client.get("/pay-now/")
    assert page.context["step"] == "done", "Pay Now's receipt step was not reached"
    return page


def _access_request(client, ours, theirs):
    invoice = ours.invoice
    page = client.post(
        "/enroll/",
        {
            "number": invoice.account.number,
            "invoice_number": invoice.number,
            "invoice_date": invoice.invoice_date.isoformat(),
            "amount": str(invoice.total),
            "control_id": invoice.control_id,
        },
    )
    assert 'action="/enroll/access-request/"' in page.content.decode(), "the access request was not offered"
    return page


def _autopay_paused(client, ours, theirs):
    client.post(f"/payments/autopay/{ours.schedule.pk}/pause/")
    page = client.get("/payments/autopay/")
    assert f'action="/payments/autopay/{ours.schedule.pk}/resume/"' in page.content.decode(), "no paused schedule"
    return page


def _account_without_blockers(client, ours, theirs):
    # The world's first account has AutoPay and an open dispute: its page refuses, with no form.
    return client.get(f"/manage/accounts/{ours.unassigned_account.number}/remove/")


# flow -> (role, the steps before, the view name of the form to fuzz, a field that form has)
FLOWS = {
    "AutoPay: resume a paused schedule": ("administrator", _autopay_paused, "payments:autopay_resume", ""),
    "Accounts: remove one nothing depends on": (
        "administrator",
        _account_without_blockers,
        "manage:account_remove",
        "",
    ),
    "Pay Now: payment details": ("anonymous", _pay_now_details, "pay_now", "pm-card_number"),
    "Pay Now: review and confirm": ("anonymous", _pay_now_review, "pay_now", "idempotency_key"),
    "Pay Now: receipt by e-mail": ("anonymous", _pay_now_done, "pay_now", "email"),
    "Enrolment: access request": ("outsider", _access_request, "enroll_access_request", "message"),
}


@dataclass
class Target:
    label: str
    role: str
    form: Form | None = None
    flow: Callable | None = None
    view_name: str = ""
    field: str = ""  # flows: a field the form to fuzz has (a page may hold several of one view)


def _view_name(path: str) -> str:
    try:
        return resolve(path).view_name
    except Resolver404:
        return f"(unresolved) {path}"


def _login(client: Client, role: str, ours, theirs) -> None:
    if role == "outsider":
        client.force_login(theirs.users["administrator"])
    elif role != "anonymous":
        client.force_login(ours.users[role])


def _reset_limits() -> None:
    """Rate-limit counters, lock-outs and cached figures: gone before every example."""
    for cache in caches.all(initialized_only=False):
        cache.clear()
    CacheEntry.objects.all().delete()  # the fallback cache table, if anything wrote to it


def _page_forms(response, url: str) -> list[Form]:
    if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
        return []
    return post_forms(response.content.decode(), url)


def discover(ours, theirs) -> list[Target]:
    """Every post form any role sees on any page of the URL conf, once each."""
    targets: dict[tuple, Target] = {}
    patterns = [p for p in url_patterns() if not p.route.startswith("admin/")]
    for role in ROLES:
        client = Client()
        _login(client, role, ours, theirs)
        for pattern in patterns:
            url = fill(pattern, ours)
            query = ENTRY_QUERY.get(pattern.name, lambda side: {})(ours)
            response = client.get(url, query)
            assert response.status_code < 500, f"GET {url} as {role}: {response.status_code}"
            page = response.wsgi_request.get_full_path()
            for form in _page_forms(response, page):
                if form.signature() not in targets:
                    name = _view_name(form.path)
                    targets[form.signature()] = Target(f"{name} ({role}, on {page})", role, form, view_name=name)
        _reset_limits()
    return list(targets.values())


def _example(target: Target, data, ours, theirs, reached: Counter) -> None:
    with transaction.atomic():
        _reset_limits()
        client = Client()
        _login(client, target.role, ours, theirs)
        form = target.form
        if target.flow is not None:
            page = target.flow(client, ours, theirs)
            url = page.wsgi_request.get_full_path()
            forms = [
                f
                for f in _page_forms(page, url)
                if _view_name(f.path) == target.view_name and (not target.field or target.field in f.fields)
            ]
            assert forms, f"{target.label}: the form was not on the page"
            form = forms[0]
            reached[target.label] += 1
        values = data.draw(field_values(form), label=target.label)
        response = client.post(form.action, values)
        assert response.status_code < 500, f"{target.label}: POST {form.action} answered {response.status_code}"
        transaction.set_rollback(True)  # the next example starts from the same state


def _fuzzer(target: Target, ours, theirs, reached: Counter):
    @FUZZ
    @given(data=st.data())
    def fuzz(data):
        _example(target, data, ours, theirs, reached)

    return fuzz


def test_every_form_of_every_page_survives_fuzzing(ours, theirs):
    targets = discover(ours, theirs)
    found = {t.view_name for t in targets}
    assert MUST_FIND <= found, f"the discovery missed {sorted(MUST_FIND - found)}"
    targets += [
        Target(label, role, flow=flow, view_name=name, field=field)
        for label, (role, flow, name, field) in FLOWS.items()
    ]

    reached: Counter = Counter()
    failures = []
    for target in targets:
        try:
            _fuzzer(target, ours, theirs, reached)()
        except Exception:  # noqa: BLE001 - every form is fuzzed; the failures are reported together
            failures.append(f"{target.label}:\n{traceback.format_exc(limit=-6)}")

    assert not failures, f"{len(failures)} of {len(targets)} forms failed:\n\n" + "\n\n".join(failures)
    for label in FLOWS:
        assert reached[label] >= 1, f"{label}: the step was never reached"


@settings(FUZZ)
@given(data=st.fixed_dictionaries({name: nasty for name in ("q", "status", "billable", "sort", "page_size")}))
def test_invoice_table_query_string(client, ours, data):
    """The tables' filters are a GET form: its query string is fuzzed too."""
    _reset_limits()
    client.force_login(ours.users["viewer"])
    more = {"page": data["q"][:5], "date_from": data["status"], "date_to": data["sort"], "amount_min": data["billable"]}
    assert client.get("/invoices/accounts/", {**data, **more}).status_code < 500
    assert client.get("/invoices/plans/", {**data, **more}).status_code < 500


def test_the_form_reader_reads_fields_options_buttons_and_the_action():
    html = """
      <form method="get" action="/search/"><input name="q"></form>
      <form method="POST" action="?company=3">
        <input type="hidden" name="key" value="k1">
        <input name="amount"><input type="checkbox" name="invoice" value="A"><input type="checkbox" name="invoice" value="B">
        <select name="kind"><option value="card">card</option><option value="bank">bank</option></select>
        <textarea name="comment"></textarea><input type="file" name="attachments">
        <button type="submit" name="action" value="details">go</button><button type="button" name="x">no</button>
      </form>"""

    [form] = post_forms(html, "/pay-now/")

    assert form.action == "/pay-now/?company=3"
    assert sorted(form.fields) == ["action", "amount", "attachments", "comment", "invoice", "key", "kind"]
    assert form.fields["invoice"].multiple and form.fields["invoice"].values == ["A", "B"]
    assert form.fields["kind"].values == ["card", "bank"]
    assert (form.fields["key"].values, form.fields["action"].values) == (["k1"], ["details"])
    assert form.fields["attachments"].kind == "file"
    assert re.fullmatch(r"/pay-now/", form.path)
