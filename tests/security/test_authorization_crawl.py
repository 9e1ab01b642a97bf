"""The authorization crawl: every URL pattern × every actor, filled with real objects.

Actors: the four roles of company A, the Administrator of company B (the outsider), and an
anonymous visitor. The expectations come from ONE table, tests/security/route_table.py, in which
every URL pattern of the project has an entry (a new route fails
``test_every_route_has_an_entry_in_the_table`` first, naming it). For each route and actor the
table gives the exact answer to a GET and to a POST of the route filled with A's objects:
200, 403 (the role may not act, own company), 404 (outside the scope), a redirect to log in, 405
… never "403 or 404". A's roles asking for B's objects get what the outsider gets for A's.

Every POST is sent as every actor with plausible data (CSRF aside: the test client does not
enforce it). An accepted POST must not be refused (its effect is tested elsewhere) and is rolled
back; a refused POST must leave every table that holds customer data, and every file under
MEDIA_ROOT, exactly as it was: compared row by row after each refused POST of a state-changing
route, and once more over the whole crawl.

No body, file or ZIP ever holds the other company's numbers (or, for assigned roles, the numbers
of an account of their own company they are not assigned).
"""

from __future__ import annotations

import datetime
import hashlib
import io
import zipfile
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from tests.security.route_table import (
    ACTORS,
    IN_PROGRESS_KEY,
    REFUSALS,
    ROUTES,
    SCHEDULED_KEY,
    VARIANTS,
    Case,
    table,
)
from tests.security.urlmap import Pattern, fill, url_patterns

pytestmark = pytest.mark.django_db

# Every table of these apps (many-to-many tables included) holds customer data or says what was
# done with it: users, memberships, invitations, companies, accounts, plans, invoices and their
# lines, payments, allocations, wallet methods, AutoPay schedules and attempts, disputes, their
# messages and attachments, export jobs, webhook events, audit events; allauth's e-mail addresses
# and MFA authenticators. (There is no webhook-endpoint model: /manage/webhooks/ is not built.)
SNAPSHOT_APPS = ("accounts", "invoices", "payments", "disputes", "account", "mfa")
# Changed by logging in (force_login), not by any request under test.
VOLATILE = {"accounts.User": {"last_login"}}


@pytest.fixture
def crawl(ours, theirs):
    """The two companies, A's account and plan taking XML invoices (so the XML download is a
    question of role and scope, not of enrolment), a pay attempt of A's Payer in progress and a
    payment of A's plan invoice scheduled for next week."""
    from payments.services import PaymentSource, attempt_claim, payment_create

    for billable in (ours.account, ours.plan):
        billable.xml_enrolled = True
        billable.save(update_fields=["xml_enrolled"])
    assert attempt_claim(idempotency_key=IN_PROGRESS_KEY, user=ours.users["payer"])
    payment_create(
        actor=ours.users["administrator"],
        invoice_ids=[ours.plan_invoice.id],
        source=PaymentSource.from_method(ours.method),
        idempotency_key=SCHEDULED_KEY,
        scheduled_for=timezone.localdate() + datetime.timedelta(days=7),
    )
    return ours, theirs


def _actors(ours, theirs) -> dict:
    return {
        **{role: ours.users[role] for role in ACTORS[:4]},
        "outsider": theirs.users["administrator"],
        "anonymous": None,
    }


def _cases() -> list[tuple[Pattern, Case, str]]:
    """(pattern, case, label) for every pattern and every variant of the table."""
    entries = table()
    by_route = {p.route: p for p in url_patterns()}
    found = [(p, entries[p.route], p.route) for p in url_patterns() if p.route in entries]
    found += [(by_route[route], case, f"{route} (variant)") for route, case in VARIANTS]
    return found


def _url(pattern: Pattern, case: Case, side) -> str:
    url = fill(pattern, side, case.values(side) if case.values else None)
    return f"{url}?{case.query(side)}" if case.query else url


def _token(response) -> str:
    status = response.status_code
    if status in (301, 302):
        location = response["Location"]
        if location.startswith("/accounts/login/"):
            return "login"
        if location.startswith("/admin/login/"):
            return "admin"
        return "302"
    return str(status)


def _answers(expected: str, response) -> bool:
    got = _token(response)
    if expected == "ok":
        return got not in REFUSALS and response.status_code < 500
    return got == expected


def _body(response) -> str:
    """Everything a response hands out, as text: the page, a file, or each member of a ZIP."""
    content = b"".join(response.streaming_content) if response.streaming else response.content
    if content[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return "\n".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())
    return content.decode("utf-8", "replace")


def _as(client, user):
    """The client, logged in as ``user`` (None: anonymous). The log-in is kept from one request to
    the next while the session cookie stays the one it made (a request that logs out, or a log-in
    rolled back with its savepoint, changes it), which keeps the crawl fast."""
    cookie = client.cookies.get(settings.SESSION_COOKIE_NAME)
    current = getattr(client, "_crawl_login", None)
    if current is not None and current == (user, cookie.value if cookie else None):
        return client
    client.logout()
    if user is not None:
        client.force_login(user)
        cookie = client.cookies.get(settings.SESSION_COOKIE_NAME)
        client._crawl_login = (user, cookie.value)
    else:
        client._crawl_login = None
    return client


def _get(client, user, url):
    """The response, and its body less the requested address itself (the language switch's
    ``next`` field repeats it on every page: the visitor's own input, not a leak)."""
    response = _as(client, user).get(url)
    return response, _body(response).replace(url, "").replace(url.split("?")[0], "")


def _leaks(body: str, secrets: list[str]) -> list[str]:
    return [secret for secret in secrets if secret in body]


def _hidden_from(actor: str, ours, theirs) -> list[str]:
    if actor == "anonymous":
        return ours.secrets + theirs.secrets
    if actor == "outsider":
        return list(ours.secrets)
    hidden = list(theirs.secrets)
    if actor != "administrator":  # assigned one account and the plan only
        hidden += [ours.unassigned_account.number, ours.unassigned_invoice.number]
    return hidden


def _models() -> list:
    return [
        model for label in SNAPSHOT_APPS for model in apps.get_app_config(label).get_models(include_auto_created=True)
    ]


def _snapshot() -> tuple[dict, dict]:
    """Every row of every customer-data table, and every file under MEDIA_ROOT with its digest."""
    tables = {}
    for model in _models():
        skip = VOLATILE.get(model._meta.label, set())
        columns = [f.attname for f in model._meta.concrete_fields if f.attname not in skip]
        tables[model._meta.label] = list(model._base_manager.order_by("pk").values_list(*columns))
    return tables, _files()


def _quick_snapshot() -> tuple[dict, dict]:
    """The same rows as ``_snapshot``, as one digest per table in one query on PostgreSQL (the
    crawl takes one after every refused POST of a state-changing route)."""
    if connection.vendor != "postgresql":
        return _snapshot()
    selects = []
    for model in _models():
        row = "to_jsonb(t)" + "".join(f" - '{column}'" for column in VOLATILE.get(model._meta.label, ()))
        selects.append(
            f"SELECT '{model._meta.label}', md5(coalesce(string_agg(({row})::text, ',' ORDER BY ({row})::text), ''))"
            f" FROM {connection.ops.quote_name(model._meta.db_table)} t"
        )
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(selects))
        return dict(cursor.fetchall()), _files()


def _files() -> dict[str, str]:
    root = Path(settings.MEDIA_ROOT)
    if not root.exists():
        return {}
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _differences(before: tuple[dict, dict], after: tuple[dict, dict]) -> list[str]:
    tables_before, files_before = before
    tables_after, files_after = after
    changed = [label for label in tables_before if tables_before[label] != tables_after.get(label)]
    if files_before != files_after:
        changed.append(f"MEDIA_ROOT files {sorted(set(files_before) ^ set(files_after)) or 'changed'}")
    return changed


class _Undo(Exception):
    pass


def _post_undone(client, user, url, data):
    """The response to a POST made inside a savepoint that is then rolled back (and the files it
    wrote removed), so an accepted action leaves the world as the next request expects it."""
    files = _files()
    try:
        with transaction.atomic():
            response = _as(client, user).post(url, data)
            raise _Undo
    except _Undo:
        pass
    root = Path(settings.MEDIA_ROOT)
    for name in set(_files()) - set(files):
        (root / name).unlink()
    return response


def test_every_route_has_an_entry_in_the_table():
    """A new URL pattern fails here until the table says who may GET and POST it."""
    entries = table()
    missing = [f"{p.name or '(unnamed)'}: {p.route}" for p in url_patterns() if p.route not in entries]
    assert not missing, "add these routes to tests/security/route_table.py:\n" + "\n".join(missing)


def test_the_table_names_only_routes_that_exist():
    routes = {p.route for p in url_patterns()}
    stale = [route for route in table() if route not in routes]
    stale += [route for route, _case in VARIANTS if route not in routes]
    assert not stale, stale
    assert len(ROUTES) > 85 and len(routes) > 300  # the check can see: project routes and the admin's


@pytest.mark.parametrize("actor", ACTORS)
def test_each_actor_gets_exactly_the_answer_of_the_table_to_a_get(client, crawl, actor):
    ours, theirs = crawl
    user = _actors(ours, theirs)[actor]
    hidden = _hidden_from(actor, ours, theirs)
    problems = []
    for pattern, case, label in _cases():
        url = _url(pattern, case, ours)
        expected = case.expected("get")[actor]
        response, body = _get(client, user, url)
        if not _answers(expected, response):
            problems.append(f"GET {url} [{label}]: {_token(response)}, the table says {expected}")
        leaked = _leaks(body, hidden)
        if leaked:
            problems.append(f"GET {url}: shows {leaked}")

        # A's roles asking for B's objects: what the outsider gets for A's, and nothing of B's.
        if actor in ACTORS[:4] and pattern.params and not pattern.route.startswith(("admin/", "accounts/")):
            if case.values:
                continue
            url = _url(pattern, case, theirs)
            expected = case.expected("get")["outsider"]
            response, body = _get(client, user, url)
            if not _answers(expected, response):
                problems.append(f"GET {url} (company B): {_token(response)}, the table says {expected}")
            leaked = _leaks(body, hidden)
            if leaked:
                problems.append(f"GET {url} (company B): shows {leaked}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("actor", ACTORS)
def test_each_actor_posting_gets_exactly_the_answer_of_the_table_and_a_refusal_changes_nothing(client, crawl, actor):
    ours, theirs = crawl
    user = _actors(ours, theirs)[actor]
    before, quick = _snapshot(), _quick_snapshot()
    problems = []
    posts = []
    for pattern, case, label in _cases():
        posts.append((_url(pattern, case, ours), case.data(ours) if case.data else {}, case, actor, label))
        # A's roles posting about B's objects: the outsider's answer, and B unchanged.
        if actor in ACTORS[:4] and pattern.params and not pattern.route.startswith(("admin/", "accounts/")):
            if not case.values:
                data = case.data(theirs) if case.data else {}
                posts.append((_url(pattern, case, theirs), data, case, "outsider", f"{label} (company B)"))
    for url, data, case, column, label in posts:
        expected = case.expected("post")[column]
        if expected == "ok":
            response = _post_undone(client, user, url, data)
            if not _answers(expected, response):
                problems.append(f"POST {url} [{label}]: {_token(response)}, the table says it is accepted")
            continue
        if not case.changes_state:  # refused by every actor: checked by the snapshot at the end
            response = _as(client, user).post(url, data)
            if not _answers(expected, response):
                problems.append(f"POST {url} [{label}]: {_token(response)}, the table says {expected}")
            continue
        response = _as(client, user).post(url, data)
        if not _answers(expected, response):
            problems.append(f"POST {url} [{label}]: {_token(response)}, the table says {expected}")
        changed = _differences(quick, _quick_snapshot())
        if changed:
            problems.append(
                f"POST {url} [{label}]: the table says {expected} (nothing changes); "
                f"it answered {_token(response)} and changed {changed}"
            )
            quick = _quick_snapshot()  # name each culprit once
    assert not problems, "\n".join(problems)
    assert not _differences(before, _snapshot())


def test_a_refused_post_is_seen_by_the_snapshot(client, crawl):
    """The snapshot can see a change in each kind of row the refused POSTs could touch."""
    from payments.models import PaymentMethod

    ours, _theirs = crawl
    before, quick = _snapshot(), _quick_snapshot()
    assert not _differences(before, _snapshot()) and not _differences(quick, _quick_snapshot())
    ours.users["viewer"].save(update_fields=["last_login"])  # a log-in is not a change
    PaymentMethod.objects.filter(pk=ours.method.pk).update(is_default=False)
    assert _differences(before, _snapshot()) == ["payments.PaymentMethod"]
    assert _differences(quick, _quick_snapshot()) == ["payments.PaymentMethod"]
    Path(settings.MEDIA_ROOT, "stray.txt").write_text("x")
    assert "MEDIA_ROOT" in _differences(before, _snapshot())[-1]
    assert "MEDIA_ROOT" in _differences(quick, _quick_snapshot())[-1]


def test_assigned_roles_cannot_open_an_unassigned_account_of_their_own_company(client, crawl):
    ours, _theirs = crawl
    for role in ("manager", "payer", "viewer"):
        client.force_login(ours.users[role])
        for suffix in ("", "print/", "pdf/", "csv/", "xml/"):
            response = client.get(f"/invoices/{ours.unassigned_invoice.number}/{suffix}")
            assert response.status_code == 404, (role, suffix, response.status_code)


def test_queries_naming_another_companys_objects_show_nothing_of_it(client, ours, theirs):
    """Forms prefilled from the query string, searches and filters: B's numbers are not ours."""
    b = theirs
    probes = [
        f"/payments/pay/?invoice={b.invoice.number}",
        f"/payments/pay/?invoice={b.invoice.number}&invoice={ours.invoice.number}",
        f"/disputes/new/?invoice={b.invoice.number}",
        f"/invoices/accounts/?q={b.invoice.number}",
        f"/invoices/accounts/?account={b.account.number}",
        f"/invoices/plans/?plan={b.plan.number}",
        f"/payments/autopay/new/?account={b.account.number}",
        f"/payments/autopay/new/?plan={b.plan.number}",
        f"/payments/history/?q={b.payment.reference}",
        f"/disputes/?q={b.dispute.reference}",
        f"/shipments/?account={b.account.number}",
    ]
    # What B's objects would show if they leaked (not the number typed, which a search box echoes).
    b_data = [b.company.name, b.plan_invoice.number, b.paid_invoice.number, b.unassigned_invoice.number]
    problems = []
    for role, user in ours.users.items():
        for url in probes:
            response, body = _get(client, user, url)
            if response.status_code >= 500:
                problems.append(f"{role} {url}: {response.status_code}")
            leaked = _leaks(body, b_data)
            if leaked:
                problems.append(f"{role} {url}: shows {leaked}")
    assert not problems, "\n".join(problems)


def test_the_owners_export_zip_holds_only_its_own_invoices(client, ours, theirs):
    client.force_login(ours.users["administrator"])
    response = client.get(f"/invoices/exports/{ours.export.id}/download/")
    assert response.status_code == 200
    body = _body(response)
    assert ours.invoice.number in body and ours.plan_invoice.number in body  # the check can see
    assert not _leaks(body, theirs.secrets)
