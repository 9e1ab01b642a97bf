"""One-time payment, receipts, history, wallet and payment options through the Django test client."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation

from accounts.models import Role
from invoices.models import InvoiceStatus
from payments.models import AutoPaySchedule, Payment, PaymentMethod, PaymentStatus, ShippingAccountPaymentOption
from tests.accounts.factories import CompanyFactory, MembershipFactory, ShippingAccountFactory, UserFactory
from tests.invoices.factories import InvoiceFactory

from .conftest import CARD_INSUFFICIENT, CARD_OK, card_method, future

pytestmark = pytest.mark.django_db

PAY = "/payments/pay/"


def review_key(response) -> str:
    match = re.search(r'name="idempotency_key" value="([^"]+)"', response.content.decode())
    assert match, "the review page carries an idempotency key"
    return match.group(1)


def test_pay_page_lists_open_invoices_to_pick(login, admin_user, invoice):
    response = login(admin_user).get(PAY)

    assert response.status_code == 200
    assert invoice.number in response.content.decode()


def test_review_shows_payable_and_unpayable_invoices_with_the_contact(login, admin_user, company, invoice):
    temporary_account = ShippingAccountFactory(
        company=company, number="1234567890", billing_contact_phone="02-9999-0000"
    )
    temporary = InvoiceFactory(account=temporary_account, due_date=future(5), invoice_date=future(0))
    paid = InvoiceFactory(
        account=invoice.account,
        total=Decimal("5000"),
        amount_paid=Decimal("5000"),
        due_date=future(5),
        invoice_date=future(0),
    )

    response = login(admin_user).get(PAY, {"invoice": [invoice.number, temporary.number, paid.number]})

    body = response.content.decode()
    assert response.status_code == 200
    assert "02-9999-0000" in body
    assert "temporary 10-digit" in body
    assert "Already paid." in body
    assert "₩13,000" in body
    assert response.context["payable"][0].invoice == invoice


def test_paying_with_a_wallet_card_redirects_to_the_receipt(login, admin_user, invoice, wallet_card):
    client = login(admin_user)
    key = review_key(client.get(PAY, {"invoice": invoice.number}))

    response = client.post(
        PAY,
        {"idempotency_key": key, "invoice": invoice.number, "method": str(wallet_card.id), "when": "today"},
        follow=True,
    )

    payment = Payment.objects.get()
    assert response.redirect_chain[-1][0] == reverse("payments:receipt", args=[payment.reference])
    assert payment.reference in response.content.decode()
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    pdf = client.get(reverse("payments:receipt_pdf", args=[payment.reference]))
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")


def test_double_submit_with_the_same_key_gives_the_first_payment(login, admin_user, invoice, wallet_card):
    client = login(admin_user)
    key = review_key(client.get(PAY, {"invoice": invoice.number}))
    data = {"idempotency_key": key, "invoice": invoice.number, "method": str(wallet_card.id), "when": "today"}

    first = client.post(PAY, data)
    second = client.post(PAY, data)

    assert Payment.objects.count() == 1
    assert first["Location"] == second["Location"]


def test_new_card_is_tokenised_and_saved_without_the_number(login, admin_user, invoice):
    client = login(admin_user)
    key = review_key(client.get(PAY, {"invoice": invoice.number}))

    response = client.post(
        PAY,
        {
            "idempotency_key": key,
            "invoice": invoice.number,
            "method": "new",
            "when": "today",
            "save_to_wallet": "on",
            "new-kind": "credit_card",
            "new-holder_name": "홍길동",
            "new-card_number": "4242 4242 4242 4242",
            "new-exp_month": "12",
            "new-exp_year": "2031",
            "new-cvc": "123",
        },
    )

    assert response.status_code == 302
    method = PaymentMethod.objects.get()
    assert (method.last4, method.brand, method.exp_month, method.exp_year) == ("4242", "Visa", 12, 2031)
    assert CARD_OK not in method.gateway_token
    assert Payment.objects.get().status == PaymentStatus.SUCCEEDED


def test_a_decline_shows_a_clear_message_and_the_invoice_stays_payable(login, admin_user, company, invoice):
    method = card_method(company, CARD_INSUFFICIENT)
    client = login(admin_user)
    key = review_key(client.get(PAY, {"invoice": invoice.number}))

    response = client.post(
        PAY, {"idempotency_key": key, "invoice": invoice.number, "method": str(method.id), "when": "today"}, follow=True
    )

    assert "insufficient funds" in response.content.decode()
    assert "Try another payment method" in response.content.decode()
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN
    again = client.get(PAY, {"invoice": invoice.number})
    assert again.context["payable"][0].invoice == invoice


def test_bad_card_number_shows_an_error_next_to_the_form(login, admin_user, invoice):
    client = login(admin_user)
    key = review_key(client.get(PAY, {"invoice": invoice.number}))

    response = client.post(
        PAY,
        {
            "idempotency_key": key,
            "invoice": invoice.number,
            "method": "new",
            "when": "today",
            "new-kind": "credit_card",
            "new-holder_name": "홍길동",
            "new-card_number": "4242424242424241",
            "new-exp_month": "12",
            "new-exp_year": "2031",
            "new-cvc": "123",
        },
    )

    assert response.status_code == 200
    assert "The card number is not valid" in response.content.decode()
    assert "4242424242424241" not in response.content.decode()
    assert Payment.objects.count() == 0


def test_viewer_may_not_pay_and_other_companies_invoices_are_404(login, company, invoice):
    viewer = UserFactory()
    MembershipFactory(user=viewer, company=company, role=Role.VIEWER, accounts=[invoice.account])
    other = InvoiceFactory(account=ShippingAccountFactory(company=CompanyFactory()))
    client = login(viewer)

    assert client.get(PAY, {"invoice": invoice.number}).status_code == 403
    assert client.get(PAY, {"invoice": other.number}).status_code == 404


def test_scheduled_payment_shows_as_scheduled(login, admin_user, invoice, wallet_card):
    client = login(admin_user)
    key = review_key(client.get(PAY, {"invoice": invoice.number}))

    response = client.post(
        PAY,
        {
            "idempotency_key": key,
            "invoice": invoice.number,
            "method": str(wallet_card.id),
            "when": "later",
            "pay_on": future(10).isoformat(),
        },
        follow=True,
    )

    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.SCHEDULED
    assert "The payment is scheduled" in response.content.decode()


def test_schedule_after_the_due_date_is_refused_next_to_the_field(login, admin_user, invoice, wallet_card):
    client = login(admin_user)
    key = review_key(client.get(PAY, {"invoice": invoice.number}))

    response = client.post(
        PAY,
        {
            "idempotency_key": key,
            "invoice": invoice.number,
            "method": str(wallet_card.id),
            "when": "later",
            "pay_on": future(60).isoformat(),
        },
    )

    assert response.status_code == 200
    assert response.context["form"].errors["pay_on"]
    assert Payment.objects.count() == 0


def test_history_lists_payments_in_constant_queries(
    login, admin_user, company, account, wallet_card, django_assert_max_num_queries
):
    from payments import services

    for n in range(6):
        inv = InvoiceFactory(account=account, total=Decimal("1000") + n, due_date=future(5), invoice_date=future(0))
        services.payment_create(
            actor=admin_user,
            invoice_ids=[inv.id],
            source=services.PaymentSource.from_method(wallet_card),
            idempotency_key=f"k{n}",
        )
    client = login(admin_user)

    with django_assert_max_num_queries(12):
        response = client.get(reverse("payments:history"))

    assert response.status_code == 200
    assert len(response.context["payments"]) == 6


def test_history_and_receipts_are_scoped(login, admin_user, invoice, wallet_card):
    from payments import services

    [payment] = services.payment_create(
        actor=admin_user,
        invoice_ids=[invoice.id],
        source=services.PaymentSource.from_method(wallet_card),
        idempotency_key="k",
    ).payments
    stranger = UserFactory()
    MembershipFactory(user=stranger, company=CompanyFactory(), role=Role.ADMINISTRATOR)
    client = login(stranger)

    assert client.get(reverse("payments:receipt", args=[payment.reference])).status_code == 404
    assert payment.reference not in client.get(reverse("payments:history")).content.decode()


# --- Wallet ---------------------------------------------------------------------------------


def test_wallet_grid_groups_expired_cards_and_list_view_is_remembered(login, admin_user, company):
    card_method(company, nickname="현재카드")
    card_method(company, default=False, exp=(1, 2020), nickname="만료카드")
    client = login(admin_user)

    grid = client.get(reverse("payments:wallet"))
    assert [m.nickname for m in grid.context["expired"]] == ["만료카드"]
    assert "Expired cards" in grid.content.decode()

    client.get(reverse("payments:wallet"), {"view": "list"})
    remembered = client.get(reverse("payments:wallet"))
    assert remembered.context["view"] == "list"
    assert "Actions" in remembered.content.decode()


def test_wallet_add_card_keeps_only_display_facts(login, admin_user, company):
    response = login(admin_user).post(
        reverse("payments:wallet_add") + f"?company={company.id}",
        {
            "company": company.id,
            "kind": "debit_card",
            "holder_name": "홍길동",
            "card_number": CARD_OK,
            "exp_month": "3",
            "exp_year": "2030",
            "cvc": "999",
            "nickname": "체크카드",
        },
    )

    assert response.status_code == 302
    method = PaymentMethod.objects.get()
    assert (method.kind, method.last4, method.nickname, method.is_default) == ("debit_card", "4242", "체크카드", True)


def test_wallet_add_bank_account_and_online_service(login, admin_user, company):
    client = login(admin_user)
    url = reverse("payments:wallet_add") + f"?company={company.id}"
    client.post(
        url,
        {
            "company": company.id,
            "kind": "bank_debit",
            "holder_name": "한빛물류",
            "bank_code": "국민은행",
            "account_number": "000123456789",
        },
    )
    client.post(
        url,
        {"company": company.id, "kind": "online_service", "service": "KakaoPay", "service_login": "pay@example.com"},
    )

    kinds = sorted(PaymentMethod.objects.values_list("kind", "last4"))
    assert kinds == [("bank_debit", "6789"), ("online_service", "")]


def _last_month():
    from django.utils import timezone

    today = timezone.localdate()
    return (today.month - 1, today.year) if today.month > 1 else (12, today.year - 1)


@pytest.mark.parametrize(
    ("month", "year", "message"),
    [("13", "2030", None), (str(_last_month()[0]), str(_last_month()[1]), "The expiry date is in the past.")],
)
def test_expiry_must_be_a_real_month_and_not_in_the_past(login, admin_user, wallet_card, month, year, message):
    with translation.override("en"):
        response = login(admin_user).post(
            reverse("payments:wallet_edit", args=[wallet_card.id]),
            {"nickname": "x", "exp_month": month, "exp_year": year},
            HTTP_ACCEPT_LANGUAGE="en",
        )

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "exp_month" in errors or "exp_year" in errors
    if message and _last_month()[1] == int(year):
        assert message in str(errors)
    wallet_card.refresh_from_db()
    assert (wallet_card.exp_month, wallet_card.exp_year) == (12, 2030)


def test_edit_updates_the_expiry_of_an_expired_card(login, admin_user, company):
    expired = card_method(company, exp=(1, 2020))

    response = login(admin_user).post(
        reverse("payments:wallet_edit", args=[expired.id]), {"nickname": "갱신", "exp_month": "5", "exp_year": "2031"}
    )

    assert response.status_code == 302
    expired.refresh_from_db()
    assert (expired.exp_month, expired.exp_year, expired.nickname) == (5, 2031, "갱신")


def test_set_default_moves_the_default(login, admin_user, company, wallet_card):
    other = card_method(company, default=False)

    login(admin_user).post(reverse("payments:wallet_default", args=[other.id]))

    assert list(PaymentMethod.objects.filter(is_default=True)) == [other]


def test_delete_warns_when_autopay_uses_the_method(login, admin_user, company, account, wallet_card):
    from django.utils import timezone

    AutoPaySchedule.objects.create(
        company=company,
        account=account,
        method=wallet_card,
        amount_mode="full",
        timing="days_before_due",
        days_before_due=3,
        start_date=future(0),
        consent_at=timezone.now(),
        terms_version="1",
    )
    client = login(admin_user)

    confirm = client.get(reverse("payments:wallet_delete", args=[wallet_card.id]))
    assert "AutoPay uses this payment method" in confirm.content.decode()
    client.post(reverse("payments:wallet_delete", args=[wallet_card.id]))
    assert not PaymentMethod.objects.exists()
    assert AutoPaySchedule.objects.get().status == AutoPaySchedule.Status.PAUSED


def test_wallet_of_another_company_is_404_and_viewers_are_403(login, company, wallet_card):
    stranger = UserFactory()
    MembershipFactory(user=stranger, company=CompanyFactory(), role=Role.ADMINISTRATOR)
    assert login(stranger).get(reverse("payments:wallet_edit", args=[wallet_card.id])).status_code == 404

    viewer = UserFactory()
    MembershipFactory(user=viewer, company=company, role=Role.VIEWER)
    assert login(viewer).get(reverse("payments:wallet")).status_code == 403


# --- Payment options in the profile (R11) -------------------------------------------------------


def test_payment_options_link_a_card_to_a_shipping_account(login, admin_user, account, wallet_card):
    client = login(admin_user)

    page = client.get("/profile/payment-options/", {"edit": account.number})
    assert page.status_code == 200
    assert "Actions" in page.content.decode()
    response = client.post("/profile/payment-options/", {"account": account.number, "method": str(wallet_card.id)})

    assert response.status_code == 302
    assert ShippingAccountPaymentOption.objects.get(account=account).method == wallet_card
    assert str(wallet_card) in client.get("/profile/payment-options/").content.decode()


def test_payment_options_refuse_other_accounts(login, admin_user, wallet_card):
    other = ShippingAccountFactory(company=CompanyFactory())

    response = login(admin_user).post(
        "/profile/payment-options/", {"account": other.number, "method": str(wallet_card.id)}
    )

    assert response.status_code == 404
    assert not ShippingAccountPaymentOption.objects.exists()


def test_a_tampered_attempt_key_is_refused_and_a_fresh_one_offered(login, admin_user, invoice, wallet_card):
    client = login(admin_user)

    response = client.post(
        PAY, {"idempotency_key": "x", "invoice": invoice.number, "method": str(wallet_card.id), "when": "today"}
    )

    assert response.status_code == 200
    assert "This payment form has expired" in response.content.decode()
    assert Payment.objects.count() == 0
    assert len(review_key(response)) >= 20


def test_a_scheduled_payment_can_be_cancelled_from_its_page(login, admin_user, invoice, wallet_card):
    from payments import services

    [payment] = services.payment_create(
        actor=admin_user,
        invoice_ids=[invoice.id],
        source=services.PaymentSource.from_method(wallet_card),
        idempotency_key="sched",
        scheduled_for=future(5),
    ).payments
    client = login(admin_user)

    response = client.post(reverse("payments:receipt", args=[payment.reference]), {"action": "cancel"}, follow=True)

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED
    assert "The scheduled payment was cancelled." in response.content.decode()


def test_wallet_and_review_pages_issue_a_constant_number_of_queries(
    login, admin_user, company, account, django_assert_max_num_queries
):
    for n in range(8):
        card_method(company, default=n == 0, nickname=f"카드{n}")
    numbers = [
        InvoiceFactory(account=account, total=Decimal("1000") + n, due_date=future(5), invoice_date=future(0)).number
        for n in range(8)
    ]
    client = login(admin_user)
    client.get(reverse("payments:wallet"))  # warm the session

    with django_assert_max_num_queries(10):
        assert client.get(reverse("payments:wallet")).status_code == 200
    with django_assert_max_num_queries(16):
        assert client.get(PAY, {"invoice": numbers}).status_code == 200
