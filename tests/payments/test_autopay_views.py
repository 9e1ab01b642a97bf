"""My AutoPay pages: set up, edit, pause, resume, cancel; scope (404) and role (403); bad input."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import AuditEvent, Role
from payments import autopay
from payments.models import AutoPayAttempt, AutoPaySchedule
from tests.accounts.factories import (
    BillingPlanFactory,
    CompanyFactory,
    MembershipFactory,
    ShippingAccountFactory,
    UserFactory,
)
from tests.invoices.factories import InvoiceFactory

from .conftest import card_method

pytestmark = pytest.mark.django_db

URL = reverse("payments:autopay")
CREATE = reverse("payments:autopay_create")


def form_data(card, **overrides):
    data = {
        "method": card.id,
        "amount_mode": "up_to_limit",
        "limit_amount": "300000",
        "timing": "days_before_due",
        "days_before_due": "5",
        "weekday": "",
        "until_date": "",
        "consent": "on",
    }
    data.update(overrides)
    return data


@pytest.fixture
def schedule(admin_user, account, wallet_card):
    return autopay.autopay_create(
        actor=admin_user,
        billable=account,
        method=wallet_card,
        amount_mode="full",
        limit_amount=None,
        timing="days_before_due",
        days_before_due=3,
        weekday=None,
        until_date=None,
        consent=True,
    )


def test_the_page_offers_set_up_for_each_account_and_plan_without_autopay(client, admin_user, account, company):
    plan = BillingPlanFactory(company=company, number="P7000001")
    client.force_login(admin_user)

    response = client.get(URL)

    assert response.status_code == 200
    content = response.content.decode()
    assert f'data-autopay-setup="{account.number}"' in content
    assert f'data-autopay-setup="{plan.number}"' in content


def test_an_administrator_sets_up_autopay_with_consent(client, admin_user, account, wallet_card):
    client.force_login(admin_user)

    response = client.post(f"{CREATE}?account={account.number}", form_data(wallet_card))

    assert response.status_code == 302
    schedule = AutoPaySchedule.objects.get(account=account)
    assert schedule.limit_amount == Decimal("300000")
    assert schedule.days_before_due == 5
    assert schedule.created_by == admin_user
    assert schedule.consent_at is not None and schedule.terms_version == autopay.TERMS_VERSION
    page = client.get(URL).content.decode()
    assert f'data-autopay-schedule="{schedule.id}"' in page


def test_without_the_consent_box_nothing_is_saved_and_the_field_says_why(client, admin_user, account, wallet_card):
    client.force_login(admin_user)

    response = client.post(f"{CREATE}?account={account.number}", form_data(wallet_card, consent=""))

    assert response.status_code == 200
    assert "consent" in response.context["form"].errors
    assert not AutoPaySchedule.objects.exists()


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"limit_amount": ""}, "limit_amount"),
        ({"limit_amount": "-5"}, "limit_amount"),
        ({"limit_amount": "100.5"}, "limit_amount"),  # KRW has no minor units
        ({"timing": "weekday", "weekday": ""}, "weekday"),
        ({"days_before_due": "abc"}, "days_before_due"),
        ({"until_date": "2001-01-01"}, "until_date"),
        ({"method": "999999"}, "method"),
    ],
)
def test_bad_input_gets_a_message_next_to_the_field(client, admin_user, account, wallet_card, overrides, field):
    client.force_login(admin_user)

    response = client.post(f"{CREATE}?account={account.number}", form_data(wallet_card, **overrides))

    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not AutoPaySchedule.objects.exists()


@pytest.mark.parametrize("typed", ["100,000", "₩100,000", "100 000", "１００，０００", "100,000원"])
def test_the_limit_is_accepted_as_koreans_type_it(client, admin_user, account, wallet_card, typed):
    # Issue 16: "100,000" was refused with "숫자를 입력하세요." plus "한도를 입력하십시오".
    client.force_login(admin_user)

    response = client.post(f"{CREATE}?account={account.number}", form_data(wallet_card, limit_amount=typed))

    assert response.status_code == 302
    assert AutoPaySchedule.objects.get(account=account).limit_amount == Decimal("100000")


def test_a_limit_that_is_not_an_amount_gets_one_message_not_two(client, admin_user, account, wallet_card):
    client.force_login(admin_user)

    response = client.post(f"{CREATE}?account={account.number}", form_data(wallet_card, limit_amount="10만"))

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == ["limit_amount"]
    with translation.override("en"):
        assert [str(message) for message in errors["limit_amount"]] == ["Enter an amount such as ₩1,000,000."]
    assert not AutoPaySchedule.objects.exists()


def test_a_manager_may_set_up_autopay_for_an_assigned_account(client, company, account, wallet_card):
    manager = UserFactory(username="manager1")
    MembershipFactory(user=manager, company=company, role=Role.MANAGER, accounts=[account])
    client.force_login(manager)

    response = client.post(f"{CREATE}?account={account.number}", form_data(wallet_card))

    assert response.status_code == 302
    assert AutoPaySchedule.objects.filter(account=account).exists()


def test_a_payer_may_see_but_not_change_autopay(client, company, account, schedule):
    payer = UserFactory(username="payer2")
    MembershipFactory(user=payer, company=company, role=Role.PAYER, accounts=[account])
    client.force_login(payer)

    page = client.get(URL)
    assert page.status_code == 200
    assert f'data-autopay-schedule="{schedule.id}"' in page.content.decode()
    assert reverse("payments:autopay_edit", args=[schedule.id]) not in page.content.decode()
    assert client.get(f"{CREATE}?account={account.number}").status_code == 403
    assert client.post(reverse("payments:autopay_cancel", args=[schedule.id])).status_code == 403
    schedule.refresh_from_db()
    assert schedule.status == AutoPaySchedule.Status.ACTIVE


def test_another_companys_autopay_answers_404(client, schedule, account):
    outsider = UserFactory(username="outsider")
    MembershipFactory(user=outsider, company=CompanyFactory(), role=Role.ADMINISTRATOR)
    client.force_login(outsider)

    assert client.get(reverse("payments:autopay_edit", args=[schedule.id])).status_code == 404
    assert client.post(reverse("payments:autopay_pause", args=[schedule.id])).status_code == 404
    assert client.get(f"{CREATE}?account={account.number}").status_code == 404
    assert f'data-autopay-schedule="{schedule.id}"' not in client.get(URL).content.decode()


def test_edit_pause_resume_and_cancel_through_the_page(client, admin_user, schedule, wallet_card):
    client.force_login(admin_user)

    edit = reverse("payments:autopay_edit", args=[schedule.id])
    assert client.get(edit).status_code == 200
    response = client.post(edit, form_data(wallet_card, timing="weekday", weekday="2", amount_mode="full"))
    assert response.status_code == 302
    schedule.refresh_from_db()
    assert (schedule.timing, schedule.weekday, schedule.limit_amount) == ("weekday", 2, None)

    client.post(reverse("payments:autopay_pause", args=[schedule.id]))
    schedule.refresh_from_db()
    assert schedule.status == "paused"
    client.post(reverse("payments:autopay_resume", args=[schedule.id]))
    schedule.refresh_from_db()
    assert schedule.status == "active"
    client.post(reverse("payments:autopay_cancel", args=[schedule.id]))
    schedule.refresh_from_db()
    assert schedule.status == "cancelled"

    actions = set(AuditEvent.objects.filter(actor=admin_user).values_list("action", flat=True))
    assert {"autopay.updated", "autopay.paused", "autopay.resumed", "autopay.cancelled"} <= actions
    assert client.get(edit).status_code == 404  # a cancelled schedule is gone from the page


def test_the_page_shows_the_preview_the_open_invoices_and_the_history(client, admin_user, account, schedule):
    today = timezone.localdate()
    InvoiceFactory(
        account=account,
        number="OLD000000001",
        invoice_date=today - datetime.timedelta(days=3),
        due_date=today + datetime.timedelta(days=20),
    )
    new = InvoiceFactory(
        account=account, number="NEW000000001", invoice_date=today, due_date=today + datetime.timedelta(days=20)
    )
    AutoPayAttempt.objects.create(
        schedule=schedule,
        invoice=new,
        attempt_no=1,
        run_on=today,
        idempotency_key="k-1",
        outcome=AutoPayAttempt.Outcome.FAILED_SOFT,
        message="insufficient funds",
    )
    client.force_login(admin_user)

    content = client.get(URL).content.decode()

    assert 'data-invoice="NEW000000001"' in content
    assert "data-open-before-start" in content and "OLD000000001" in content
    assert 'data-outcome="failed_soft"' in content


def test_the_page_answers_in_korean_and_english(client, admin_user, schedule):
    client.force_login(admin_user)
    for language in ("ko", "en"):
        client.cookies["django_language"] = language
        response = client.get(URL, HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200
        assert f'<html lang="{language}"' in response.content.decode()


def test_an_expired_card_is_not_offered(client, admin_user, company, account):
    expired = card_method(company, exp=(1, 2020), nickname="만료카드")
    client.force_login(admin_user)

    response = client.get(f"{CREATE}?account={account.number}")

    assert expired not in response.context["form"].fields["method"].queryset
    assert "data-no-methods" in response.content.decode()


def test_a_temporary_account_is_not_offered_for_autopay(client, admin_user, company):
    temporary = ShippingAccountFactory(company=company, number="1234567890")
    client.force_login(admin_user)

    content = client.get(URL).content.decode()

    assert f'data-autopay-setup="{temporary.number}"' not in content


def test_the_page_issues_the_same_number_of_queries_for_more_schedules(client, admin_user, company, wallet_card):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    today = timezone.localdate()

    def add_schedule(number):
        account = ShippingAccountFactory(company=company, number=number)
        schedule = autopay.autopay_create(
            actor=admin_user,
            billable=account,
            method=wallet_card,
            amount_mode="full",
            limit_amount=None,
            timing="days_before_due",
            days_before_due=3,
            weekday=None,
            until_date=None,
            consent=True,
        )
        for n in range(2):
            invoice = InvoiceFactory(
                account=account,
                number=f"{number}INV{n:04d}",
                invoice_date=today,
                due_date=today + datetime.timedelta(days=10),
            )
            AutoPayAttempt.objects.create(
                schedule=schedule,
                invoice=invoice,
                attempt_no=1,
                run_on=today,
                idempotency_key=f"k-{number}-{n}",
                outcome=AutoPayAttempt.Outcome.FAILED_SOFT,
            )

    add_schedule("QC0001")
    client.force_login(admin_user)
    with CaptureQueriesContext(connection) as one:
        assert client.get(URL).status_code == 200
    for number in ("QC0002", "QC0003", "QC0004"):
        add_schedule(number)
    with CaptureQueriesContext(connection) as four:
        response = client.get(URL)

    assert len(response.context["previews"]) == 4
    assert len(four) == len(one)
