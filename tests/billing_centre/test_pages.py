"""The portal frame: side navigation, language switch, error pages, scoped invoice detail."""

from __future__ import annotations

import re

import pytest
from django.test import RequestFactory
from django.urls import reverse

from accounts.models import Role
from invoices.models import LineKind
from tests.accounts.factories import CompanyFactory, MembershipFactory, ShippingAccountFactory, UserFactory
from tests.invoices.factories import InvoiceFactory, InvoiceLineFactory, ShipmentFactory

pytestmark = pytest.mark.django_db

# Every page of the side navigation (DESIGN.md) plus the header's Pay Now.
NAV_URL_NAMES = [
    "dashboard",
    "invoices:account_list",
    "invoices:plan_list",
    "shipments",
    "payments:pay",
    "payments:history",
    "payments:autopay",
    "payments:wallet",
    "disputes:list",
    "manage:accounts",
    "manage:plans",
    "manage:users",
    "help",
    "pay_now",
]
# The dashboard shows the landing page; shipping history shows the phone number (R22).
PUBLIC_URL_NAMES = {"pay_now", "help", "dashboard", "shipments"}
LANGUAGES = ["ko", "en"]


@pytest.fixture
def administrator():
    company = CompanyFactory()
    account = ShippingAccountFactory(company=company)
    InvoiceFactory(account=account)
    user = UserFactory()
    MembershipFactory(user=user, company=company, role=Role.ADMINISTRATOR)
    return user


def _html_lang(response) -> str:
    match = re.search(r'<html lang="([a-z-]+)"', response.content.decode())
    return match.group(1) if match else ""


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", NAV_URL_NAMES)
def test_every_navigation_page_answers_200_for_a_logged_in_user(client, administrator, name, language):
    client.force_login(administrator)
    client.cookies["django_language"] = language

    response = client.get(reverse(name))

    assert response.status_code == 200
    assert _html_lang(response) == language


def test_payments_index_leads_to_a_page_for_a_logged_in_user(client, administrator):
    client.force_login(administrator)

    response = client.get(reverse("payments:index"), follow=True)

    assert response.status_code == 200
    assert not response.request["PATH_INFO"].startswith(reverse("account_login"))


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", sorted(set(NAV_URL_NAMES) - PUBLIC_URL_NAMES))
def test_private_pages_send_anonymous_visitors_to_log_in(client, name, language):
    client.cookies["django_language"] = language
    url = reverse(name)

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert f"next={url}" in response["Location"].replace("%2F", "/")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", sorted(PUBLIC_URL_NAMES))
def test_public_pages_answer_anonymous_visitors(client, name, language):
    response = client.get(reverse(name), HTTP_ACCEPT_LANGUAGE=language)

    assert response.status_code == 200
    assert _html_lang(response) == language


def test_side_navigation_marks_the_current_page(client, administrator):
    client.force_login(administrator)

    html = client.get(reverse("payments:wallet")).content.decode()

    current = re.findall(r'<a href="([^"]+)" aria-current="page"', html)
    assert current == [reverse("payments:wallet")]
    for name in NAV_URL_NAMES:
        if name != "pay_now":
            assert f'href="{reverse(name)}"' in html


def test_side_navigation_shows_admin_links_only_to_administrators(client):
    company = CompanyFactory()
    viewer = UserFactory()
    MembershipFactory(user=viewer, company=company, role=Role.VIEWER)
    manager = UserFactory()
    MembershipFactory(user=manager, company=company, role=Role.MANAGER)

    client.force_login(viewer)
    viewer_html = client.get(reverse("dashboard")).content.decode()
    client.force_login(manager)
    manager_html = client.get(reverse("dashboard")).content.decode()

    assert f'href="{reverse("manage:users")}"' not in viewer_html
    assert f'href="{reverse("manage:accounts")}"' not in viewer_html
    assert f'href="{reverse("manage:users")}"' in manager_html
    assert f'href="{reverse("manage:accounts")}"' not in manager_html


def test_header_shows_user_menu_with_mfa_password_and_post_logout(client, administrator):
    client.force_login(administrator)

    html = client.get(reverse("dashboard")).content.decode()

    assert administrator.username in html
    assert f'href="{reverse("mfa_index")}"' in html
    assert f'href="{reverse("account_change_password")}"' in html
    assert re.search(rf'<form action="{reverse("account_logout")}" method="post"', html)
    assert f'href="{reverse("pay_now")}"' in html


def test_header_offers_log_in_and_sign_up_to_anonymous_visitors(client):
    html = client.get(reverse("help")).content.decode()

    assert f'href="{reverse("account_login")}"' in html
    assert f'href="{reverse("account_signup")}"' in html
    assert reverse("account_logout") not in html


def test_language_switch_posts_to_set_language_and_changes_the_language(client):
    page = client.get(reverse("help"))
    html = page.content.decode()
    assert _html_lang(page) == "ko"
    assert f'action="{reverse("set_language")}" method="post"' in html
    assert f'name="next" value="{reverse("help")}"' in html

    response = client.post(reverse("set_language"), {"language": "en", "next": reverse("help")})

    assert response.status_code == 302
    assert response["Location"] == reverse("help")
    assert client.cookies["django_language"].value == "en"
    after = client.get(reverse("help"))
    assert _html_lang(after) == "en"
    assert "Log in" in after.content.decode()

    client.post(reverse("set_language"), {"language": "ko", "next": reverse("help")})
    assert _html_lang(client.get(reverse("help"))) == "ko"


def test_unknown_url_answers_the_portal_404_page(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert "404.html" in [t.name for t in response.templates]
    assert 'class="card error-page"' in response.content.decode()


def test_500_page_renders_without_context_processors_or_database(django_assert_num_queries):
    from django.views.defaults import server_error

    request = RequestFactory().get("/")
    with django_assert_num_queries(0):
        response = server_error(request)

    assert response.status_code == 500
    html = response.content.decode()
    assert "500" in html
    assert "app.css" in html


def test_403_page_is_the_portal_page(client, administrator, settings):
    from django.core.exceptions import PermissionDenied
    from django.views.defaults import permission_denied

    request = RequestFactory().get("/")
    request.user = administrator
    response = permission_denied(request, PermissionDenied())

    assert response.status_code == 403
    assert 'class="card error-page"' in response.content.decode()


@pytest.fixture
def company_with_two_accounts():
    company = CompanyFactory()
    mine = ShippingAccountFactory(company=company)
    theirs = ShippingAccountFactory(company=company)
    manager = UserFactory()
    MembershipFactory(user=manager, company=company, role=Role.MANAGER, accounts=[mine])
    return manager, mine, theirs


def test_invoice_detail_shows_header_facts_and_lines_grouped_by_shipment(client, company_with_two_accounts):
    manager, mine, _theirs = company_with_two_accounts
    invoice = InvoiceFactory(account=mine, control_id="C7654321")
    first = ShipmentFactory(account=mine, tracking_number="1Z0000000000000111")
    second = ShipmentFactory(account=mine, tracking_number="1Z0000000000000222")
    InvoiceLineFactory(invoice=invoice, shipment=first, description="첫 번째 운송 요금")
    InvoiceLineFactory(invoice=invoice, shipment=second, description="두 번째 운송 요금")
    InvoiceLineFactory(invoice=invoice, kind=LineKind.LATE_FEE, description="연체 요금")
    client.force_login(manager)

    response = client.get(reverse("invoices:detail", args=[invoice.number]))

    assert response.status_code == 200
    html = response.content.decode()
    for text in (invoice.number, mine.number, "C7654321", "1Z0000000000000111", "1Z0000000000000222"):
        assert text in html
    # Each shipment heads its own lines; other charges come last.
    assert html.index("1Z0000000000000111") < html.index("첫 번째 운송 요금")
    assert html.index("첫 번째 운송 요금") < html.index("1Z0000000000000222")
    assert html.index("1Z0000000000000222") < html.index("두 번째 운송 요금") < html.index("연체 요금")


def test_invoice_detail_of_another_company_answers_404(client, company_with_two_accounts):
    manager, _mine, _theirs = company_with_two_accounts
    stranger_invoice = InvoiceFactory(account=ShippingAccountFactory(company=CompanyFactory()))
    client.force_login(manager)

    response = client.get(reverse("invoices:detail", args=[stranger_invoice.number]))

    assert response.status_code == 404
    html = response.content.decode()
    assert stranger_invoice.control_id not in html
    assert stranger_invoice.account.number not in html


def test_invoice_detail_of_an_unassigned_account_in_the_same_company_answers_404(client, company_with_two_accounts):
    manager, _mine, theirs = company_with_two_accounts
    invoice = InvoiceFactory(account=theirs)
    client.force_login(manager)

    response = client.get(reverse("invoices:detail", args=[invoice.number]))

    assert response.status_code == 404
    html = response.content.decode()
    assert invoice.control_id not in html
    assert theirs.number not in html
