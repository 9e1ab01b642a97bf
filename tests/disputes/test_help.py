"""The Help & Support Center: public, searchable in Korean and English, every FAQ topic, links that work."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from disputes.help_topics import TOPICS, help_search

pytestmark = pytest.mark.django_db

HELP = reverse("help")
# Every topic of the FAQ in shared/seed, by slug.
FAQ_TOPICS = {
    "temporary-number",
    "about",
    "pay-once",
    "autopay",
    "pay-now",
    "payment-types",
    "find-invoices",
    "wallet",
    "shipping-card",
    "paperless",
    "xml",
    "disputes",
    "shipping-history",
    "late-fees",
    "enrol-with-invoice",
    "enrol-without-invoice",
    "add-account",
    "users",
    "backup-administrator",
    "contact",
}


@pytest.mark.parametrize("language", ["ko", "en"])
def test_help_is_public_in_both_languages(client, language):
    client.cookies["django_language"] = language

    response = client.get(HELP)

    assert response.status_code == 200
    assert f'<html lang="{language}"' in response.content.decode()


def test_every_faq_topic_is_covered():
    assert {topic.slug for topic in TOPICS} == FAQ_TOPICS


def test_every_topic_is_shown_and_links_to_the_page_that_does_it(client):
    html = Client(HTTP_ACCEPT_LANGUAGE="en").get(HELP).content.decode()

    for topic in TOPICS:
        assert f'id="{topic.slug}"' in html
        assert topic.links, topic.slug
        for link in topic.links:
            assert f'href="{link.url()}"' in html


def test_every_help_link_leads_to_a_page_that_answers(client, login, world):
    client = login(world["users"]["administrator"])
    for topic in TOPICS:
        for link in topic.links:
            path = link.url().split("#")[0]
            response = client.get(path, follow=True)
            # A redirect is fine where it ends on a page, never on the log-in page.
            assert response.status_code == 200, path
            assert not response.request["PATH_INFO"].startswith("/accounts/login"), path


def test_billing_support_phone_contact_on_invoice_and_dispute_guide_are_shown(client):
    client.cookies["django_language"] = "en"

    html = client.get(HELP).content.decode()

    assert "080-687-6886" in html
    assert 'id="contact"' in html
    assert "billing contact printed on the invoice" in html
    assert 'id="dispute-guide"' in html
    assert len(re.findall(r"<li>", html.split('id="dispute-guide"')[1].split("</ol>")[0])) == 7


def test_print_fee_facts_are_stated(client):
    client.cookies["django_language"] = "en"

    html = client.get(HELP).content.decode()

    assert "₩13,000" in html
    assert "2024-12-29" in html
    assert "2024-12-20" in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("AutoPay", "autopay"),
        ("자동 결제", "autopay"),
        ("10-digit", "temporary-number"),
        ("임시 고객번호", "temporary-number"),
        ("print fee", "paperless"),
        ("인쇄 수수료", "paperless"),
        ("XML", "xml"),
        ("backup administrator", "backup-administrator"),
        ("월렛", "wallet"),
    ],
)
def test_search_finds_the_topic_in_english_or_korean(client, query, expected):
    response = client.get(HELP, {"q": query})

    slugs = [topic.slug for _slug, _title, topics in response.context["sections"] for topic in topics]
    assert expected in slugs
    assert len(slugs) < len(TOPICS)


def test_search_terms_must_all_match():
    assert help_search("AutoPay zzzznotthere") == []


def test_a_search_with_no_match_says_so_and_offers_support(client):
    client.cookies["django_language"] = "en"

    response = client.get(HELP, {"q": "zzzznotthere"})

    html = response.content.decode()
    assert response.context["result_count"] == 0
    assert "No topic matches your search" in html
    assert "080-687-6886" in html


def test_searching_disputes_shows_the_step_by_step_guide(client):
    response = client.get(HELP, {"q": "이의 제기"})

    assert response.context["show_guide"] is True
    assert 'id="dispute-guide"' in response.content.decode()
