"""The authorization crawl: every URL pattern × every actor, filled with real objects.

Actors: the four roles of company A, the Administrator of company B (the outsider), and an
anonymous visitor. Each pattern is requested with A's objects and with B's. The crawl asserts
that nobody gets a 500, that the scope ends in 404/403/a redirect to log in, that each role
gets 200 where the role table of DESIGN.md says it may, and that no body, file or ZIP ever
holds the other company's numbers (or, for assigned roles, the numbers of an account of their
own company they are not assigned).
"""

from __future__ import annotations

import io
import zipfile

import pytest

from tests.security.urlmap import Pattern, fill, url_patterns

pytestmark = pytest.mark.django_db

LOGIN_REDIRECTS = ("/accounts/login/", "/admin/")

# Pages an anonymous visitor may open (everything else redirects to log in, or is a 404/405).
PUBLIC = {
    "/",
    "/healthz",
    "/accounts/login/",
    "/accounts/inactive/",
    "/accounts/signup/",
    "/accounts/confirm-email/",
    "/accounts/confirm-email/not-a-real-key/",
    "/accounts/password/reset/",
    "/accounts/password/reset/done/",
    "/accounts/password/reset/key/done/",
    "/accounts/password/reset/key/1-not-a-real-key/",
    "/pay-now/",
    "/shipments/",
    "/help/",
    "/admin/login/",
}

ALL = {"administrator", "manager", "payer", "viewer"}
PAYING = {"administrator", "manager", "payer"}
MANAGING = {"administrator", "manager"}
ADMIN = {"administrator"}

# Who of company A gets 200 on a page about A's objects (DESIGN.md, Roles); the others get 403/404.
IN_SCOPE = {
    "dashboard": ALL,
    "invoices:account_list": ALL,
    "invoices:plan_list": ALL,
    "invoices:detail": ALL,
    "invoices:print": ALL,
    "invoices:pdf": ALL,
    "invoices:csv": ALL,
    "invoices:export_job": ADMIN,  # the owner only
    "invoices:export_status": ADMIN,
    "invoices:export_download": ADMIN,
    "payments:receipt": ALL,
    "payments:receipt_pdf": ALL,
    "payments:history": ALL,
    "payments:pay": ALL,
    "payments:wallet": PAYING,
    "payments:wallet_add": PAYING,
    "payments:wallet_edit": PAYING,
    "payments:wallet_delete": PAYING,
    "payments:autopay": ALL,
    "payments:autopay_edit": MANAGING,
    "disputes:list": ALL,
    "disputes:detail": ALL,
    "disputes:attachment": ALL,
    "manage:accounts": MANAGING,
    "manage:account_add": ADMIN,
    "manage:account_xml": ADMIN,
    "manage:account_remove": ADMIN,
    "manage:plans": MANAGING,
    "manage:plan_xml": ADMIN,
    "manage:plan_remove": ADMIN,
    "manage:users": MANAGING,
    "manage:user_add": MANAGING,
    "manage:user_invite": MANAGING,
    "manage:user_edit": ADMIN,  # the Administrator's membership: a Manager may not manage it
    "manage:user_remove": ADMIN,
    "manage:activity": ADMIN,
}


def _names(patterns: list[Pattern]) -> set[str]:
    return {p.name for p in patterns}


def _body(response) -> str:
    """Everything a response hands out, as text: the page, a file, or each member of a ZIP."""
    content = b"".join(response.streaming_content) if response.streaming else response.content
    if content[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return "\n".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())
    return content.decode("utf-8", "replace")


def _get(client, user, url):
    """The response, and its body less the requested path itself (the language switch's
    ``next`` field repeats it on every page: the visitor's own input, not a leak)."""
    client.logout()
    if user is not None:
        client.force_login(user)
    response = client.get(url)
    return response, _body(response).replace(url.split("?")[0], "")


def _leaks(body: str, secrets: list[str]) -> list[str]:
    return [secret for secret in secrets if secret in body]


def test_the_url_map_is_fully_crawled():
    """Every pattern gets a value for each of its parameters (a new pattern fails here first)."""
    patterns = url_patterns()
    assert len(patterns) > 80
    names = _names(patterns)
    assert set(IN_SCOPE) <= names, set(IN_SCOPE) - names


def test_anonymous_visitors_reach_only_public_pages(client, ours, theirs):
    problems = []
    for pattern in url_patterns():
        url = fill(pattern, ours)
        response, body = _get(client, None, url)
        status = response.status_code
        if status >= 500:
            problems.append(f"{url}: {status}")
        elif status == 200 and url not in PUBLIC:
            problems.append(f"{url}: 200 for an anonymous visitor")
        elif (
            status in (301, 302)
            and url not in PUBLIC
            and not any(response["Location"].startswith(p) for p in LOGIN_REDIRECTS)
        ):
            # Redirects that are not to log in: allowed only for pages that just bounce (i18n).
            if not url.startswith(("/i18n/", "/accounts/")):
                problems.append(f"{url}: redirects to {response['Location']}")
        leaked = _leaks(body, ours.secrets + theirs.secrets)
        if leaked:
            problems.append(f"{url}: shows {leaked}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("role", sorted(ALL))
def test_each_role_gets_its_pages_and_nothing_outside_its_scope(client, ours, theirs, role):
    user = ours.users[role]
    hidden = list(theirs.secrets)
    if role != "administrator":  # assigned one account and the plan only
        hidden += [ours.unassigned_account.number, ours.unassigned_invoice.number]
    problems = []
    for pattern in url_patterns():
        # Our objects: 200 exactly where the role table says, and no other company's data.
        url = fill(pattern, ours)
        response, body = _get(client, user, url)
        status = response.status_code
        if status >= 500:
            problems.append(f"{url}: {status}")
        expected = IN_SCOPE.get(pattern.name)
        if expected is not None:
            if role in expected and status != 200:
                problems.append(f"{url}: {status}, expected 200 for {role}")
            if role not in expected and status not in (403, 404):
                problems.append(f"{url}: {status}, expected 403/404 for {role}")
        leaked = _leaks(body, hidden)
        if leaked:
            problems.append(f"{url}: shows {leaked}")

        # The other company's objects: never a 200 on a page about one object.
        if pattern.params and not pattern.route.startswith(("admin/", "accounts/")):
            url = fill(pattern, theirs)
            response, body = _get(client, user, url)
            if response.status_code >= 500 or response.status_code == 200:
                problems.append(f"{url} (company B): {response.status_code}")
            leaked = _leaks(body, hidden)
            if leaked:
                problems.append(f"{url} (company B): shows {leaked}")
    assert not problems, "\n".join(problems)


def test_assigned_roles_cannot_open_an_unassigned_account_of_their_own_company(client, ours):
    for role in ("manager", "payer", "viewer"):
        client.force_login(ours.users[role])
        for suffix in ("", "print/", "pdf/", "csv/", "xml/"):
            response = client.get(f"/invoices/{ours.unassigned_invoice.number}/{suffix}")
            assert response.status_code == 404, (role, suffix, response.status_code)


def test_the_outsider_never_sees_company_a(client, ours, theirs):
    outsider = theirs.users["administrator"]
    problems = []
    for pattern in url_patterns():
        url = fill(pattern, ours)
        response, body = _get(client, outsider, url)
        status = response.status_code
        if status >= 500:
            problems.append(f"{url}: {status}")
        if pattern.params and not pattern.route.startswith(("admin/", "accounts/")) and status == 200:
            problems.append(f"{url}: 200 for another company's object")
        leaked = _leaks(body, ours.secrets)
        if leaked:
            problems.append(f"{url}: shows {leaked}")
    assert not problems, "\n".join(problems)


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


def test_posts_about_another_companys_objects_change_nothing(client, ours, theirs):
    """Every state-changing URL filled with company B's objects, posted by A's Administrator
    (CSRF aside: the test client does not enforce it): 403/404/405, and B's objects unchanged."""
    from accounts.models import Invitation, Membership
    from disputes.models import Dispute
    from payments.models import AutoPaySchedule, PaymentMethod

    def state():
        theirs.account.refresh_from_db()
        theirs.plan.refresh_from_db()
        return (
            theirs.account.company_id,
            theirs.account.xml_enrolled,
            theirs.plan.company_id,
            theirs.plan.xml_enrolled,
            list(PaymentMethod.objects.filter(company=theirs.company).values_list("id", "exp_month", "is_default")),
            list(AutoPaySchedule.objects.filter(company=theirs.company).values_list("id", "status")),
            list(Dispute.objects.filter(company=theirs.company).values_list("id", "status")),
            list(Membership.objects.filter(company=theirs.company).values_list("id", "role")),
            list(Invitation.objects.filter(company=theirs.company).values_list("id", flat=True)),
        )

    before = state()
    client.force_login(ours.users["administrator"])
    problems = []
    body = {
        "exp_month": "1",
        "exp_year": "2035",
        "nickname": "x",
        "body": "hello",
        "role": "viewer",
        "confirm": "1",
        "enabled": "on",
        "action": "cancel",
    }
    for pattern in url_patterns():
        if not pattern.params or pattern.route.startswith(("admin/", "accounts/")):
            continue
        url = fill(pattern, theirs)
        response = client.post(url, body)
        if response.status_code not in (403, 404, 405):
            problems.append(f"POST {url}: {response.status_code}")
    assert not problems, "\n".join(problems)
    assert state() == before
