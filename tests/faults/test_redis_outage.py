"""Redis down (issue 13, "Faults"): every page keeps working, lock-outs still hold, nothing is lost.

A private `redis-server` is killed (SIGKILL) while a logged-in user opens the main pages, logs in
through allauth, pays an invoice and uses Pay Now anonymously. No response may be a 500; the
rate limits and lock-outs that lived in Redis keep counting in the database; the receipt that
could not be queued is sent once Redis is back and the receipt sweep has run, by a real worker.
"""

from __future__ import annotations

import copy
import datetime
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import AuditEvent, Role
from payments.models import Payment, PaymentStatus
from tests.accounts.factories import (
    PASSWORD,
    BillingPlanFactory,
    CompanyFactory,
    MembershipFactory,
    ShippingAccountFactory,
    UserFactory,
)
from tests.invoices.factories import InvoiceFactory
from tests.payments.conftest import card_method, future
from tests.processes import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.needs_redis]  # a private redis-server

PAY_NOW = "/pay-now/"


@pytest.fixture
def outage(private_redis, settings):
    """The private Redis is the project's cache and broker, and /healthz checks it; then it dies."""
    settings.REDIS_URL = private_redis.url
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.PAYMENT_GATEWAY = "simulated"
    # The cache goes back to Redis a moment after it answers again (production default: 5 s).
    caches = copy.deepcopy(settings.CACHES)
    caches["default"].setdefault("OPTIONS", {})["RETRY_SECONDS"] = 0.2
    settings.CACHES = caches
    private_redis.stop()
    return private_redis


@pytest.fixture
def world():
    company = CompanyFactory(name="한빛물류")
    user = UserFactory(username="outage-admin", email="admin@hanbit.example")
    MembershipFactory(user=user, company=company, role=Role.ADMINISTRATOR)
    account = ShippingAccountFactory(company=company, number="R3D1S0")
    plan = BillingPlanFactory(company=company)
    today = future(0)
    invoices = [
        InvoiceFactory(
            account=account,
            number=f"INVR{n:08d}",
            total=Decimal("13000"),
            invoice_date=today,
            due_date=future(20),
        )
        for n in range(3)
    ]
    plan_invoice = InvoiceFactory(
        plan=plan, account=None, number="INVP00000001", total=Decimal("50000"), invoice_date=today, due_date=future(20)
    )
    return {
        "company": company,
        "user": user,
        "account": account,
        "invoices": invoices,
        "plan_invoice": plan_invoice,
        "card": card_method(company),
    }


def _review_key(response) -> str:
    match = re.search(r'name="idempotency_key" value="([^"]+)"', response.content.decode())
    assert match, "the review page carries an idempotency key"
    return match.group(1)


def _log_in(client, login, password=PASSWORD):
    return client.post(reverse("account_login"), {"login": login, "password": password})


def test_every_main_page_answers_while_redis_is_down(client, outage, world):
    client.force_login(world["user"])
    invoice = world["invoices"][0]
    pages = [
        "/",
        "/invoices/accounts/?status=open&sort=-due_date",
        "/invoices/plans/?status=open&sort=total",
        f"/invoices/{invoice.number}/",
        "/payments/",
        f"/payments/pay/?invoice={invoice.number}",
        "/payments/history/",
        "/payments/wallet/",
        "/payments/autopay/",
        "/profile/payment-options/",
        "/shipments/",
        "/disputes/",
        f"/disputes/new/?invoice={invoice.number}",
        "/help/",
        "/manage/accounts/",
        "/manage/plans/",
        "/manage/users/",
        "/manage/activity/",
        PAY_NOW,
    ]

    statuses = {page: client.get(page).status_code for page in pages}

    assert statuses == {**dict.fromkeys(pages, 200), "/payments/": 302}  # the payments index redirects
    health = client.get("/healthz")
    assert health.status_code == 200
    assert (health.json()["status"], health.json()["database"], health.json()["redis"]) == (
        "degraded",
        "ok",
        "unavailable",
    )


def test_log_in_works_and_the_eleventh_failed_log_in_is_refused_while_redis_is_down(client, outage, world):
    client.cookies["django_language"] = "en"
    # A real user logs in during the outage (allauth's rate-limit lock lives in the cache).
    assert _log_in(client, "outage-admin")["Location"] == reverse("dashboard")
    client.logout()

    # 10 failed log-ins from one address (ACCOUNT_RATE_LIMITS["login_failed"]: 10 a minute per IP)...
    for n in range(10):
        assert _log_in(client, f"nobody{n}", "wrong-password").status_code == 200

    # ...and the 11th is refused, even with the right password.
    refused = _log_in(client, "outage-admin")
    again = _log_in(client, "outage-admin")

    assert refused.status_code == 200
    assert "_auth_user_id" not in client.session
    assert refused.context["form"].errors == again.context["form"].errors
    errors = str(refused.context["form"].errors)
    assert "Too many failed login attempts" in errors or "너무 많은 로그인 실패" in errors
    # The lock-out is audited once, not once per refusal (its de-duplication is in the cache too).
    assert AuditEvent.objects.filter(action="auth.login_locked_out").count() == 1


def test_a_totp_code_logs_in_once_and_is_refused_when_replayed_while_redis_is_down(outage, frozen_clock):
    from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
    from allauth.mfa.totp.internal.auth import yield_hotp_counters_from_time as counters

    user = UserFactory(username="outage-staff", is_staff=True)
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    code = format_hotp_value(hotp_value(secret, next(counters())))

    def password_then(code_typed: str) -> Client:
        client = Client()
        step = _log_in(client, "outage-staff")
        assert step["Location"].startswith("/accounts/2fa/authenticate/")
        client.post(step["Location"], {"code": code_typed})
        return client

    # allauth marks a used code with cache.add: the mark lives in the database during the outage.
    assert "_auth_user_id" in password_then(code).session
    assert "_auth_user_id" not in password_then(code).session  # the same code again: a replay


def test_a_totp_code_used_while_redis_answered_is_refused_after_redis_goes_down(private_redis, settings):
    """The "code used" mark is kept in the database only: were it in Redis, a code used a moment
    before an outage could be used again during it (and the other way round when Redis returns)."""
    from django.core.cache import cache

    caches = copy.deepcopy(settings.CACHES)
    caches["default"]["OPTIONS"]["RETRY_SECONDS"] = 0.2
    settings.CACHES = caches
    key = "allauth.mfa.totp.used?user=7&code=123456"
    assert cache.add(key, "y", timeout=90) is True  # Redis answers: the code is used now

    private_redis.stop()

    assert cache.add(key, "y", timeout=90) is False  # a replay during the outage
    private_redis.start()
    assert cache.add(key, "y", timeout=90) is False  # and after it


def test_pay_now_lock_out_holds_while_redis_is_down(client, outage, world, settings):
    settings.PAY_NOW_LIMIT_PER_IP = 3
    client.cookies["django_language"] = "en"
    invoice = world["invoices"][0]
    for n in range(3):
        client.post(
            PAY_NOW,
            {"action": "lookup", "account_number": f"ZZZZZ{n}", "invoice_number": invoice.number, "amount": "13000"},
        )

    response = client.post(
        PAY_NOW,
        {"action": "lookup", "account_number": "R3D1S0", "invoice_number": invoice.number, "amount": "13000"},
    )

    assert response.status_code == 200
    assert "Too many attempts" in response.content.decode()
    assert client.get(PAY_NOW).context["step"] == "lookup"
    assert AuditEvent.objects.filter(action="pay_now.locked_out").count() == 1


def test_rate_limits_count_in_redis_again_once_it_returns(client, outage, world):
    outage.start()
    redis = outage.client()

    def logged_in() -> bool:
        client.logout()
        return _log_in(client, "outage-admin").status_code == 302 and bool(
            redis.keys("*allauth:rl:allauth.account:login_failed*")
        )

    wait_until(logged_in, timeout=10, message="log-ins counted in Redis again")


@pytest.mark.needs_postgres
@pytest.mark.needs_worker
def test_paying_while_redis_is_down_charges_once_and_the_receipt_follows_when_it_returns(
    client, outage, world, start_worker, tmp_path
):
    from payments.services import payment_receipts_requeue

    client.force_login(world["user"])
    invoice = world["invoices"][0]
    key = _review_key(client.get("/payments/pay/", {"invoice": invoice.number}))
    data = {"idempotency_key": key, "invoice": invoice.number, "method": str(world["card"].id), "when": "today"}

    first = client.post("/payments/pay/", data)
    second = client.post("/payments/pay/", data)  # Back and submit again, or a double click

    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == reverse("payments:attempt", args=[key])
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert client.get(first["Location"], follow=True).status_code == 200
    assert payment.receipt_sent_at is None  # the broker was down: not queued, not lost

    # Pay Now, anonymously, during the same outage.
    guest = Client()
    other = world["invoices"][1]
    guest.post(
        PAY_NOW,
        {"action": "lookup", "account_number": "R3D1S0", "invoice_number": other.number, "amount": "13000"},
    )
    guest.post(
        PAY_NOW,
        {
            "action": "details",
            "pm-kind": "credit_card",
            "pm-holder_name": "김철수",
            "pm-card_number": "4242424242424242",
            "pm-exp_month": "12",
            "pm-exp_year": "2031",
            "pm-cvc": "123",
            "pm-email": "guest@example.com",
        },
    )
    review = guest.get(PAY_NOW)
    confirmed = guest.post(
        PAY_NOW, {"action": "confirm", "idempotency_key": review.context["form"].initial["idempotency_key"]}
    )
    assert confirmed.status_code == 302
    assert guest.get(PAY_NOW).context["step"] == "done"
    assert Payment.objects.filter(status=PaymentStatus.SUCCEEDED).count() == 2

    # Redis returns; a worker runs; the sweep re-queues the receipts that never reached the broker.
    outage.start()
    mail_dir = tmp_path / "mail"
    start_worker(extra_env={"EMAIL_URL": f"filemail:///{mail_dir}"})
    requeued = payment_receipts_requeue(older_than=datetime.timedelta(0))

    assert requeued == 2
    wait_until(
        lambda: not Payment.objects.filter(receipt_sent_at__isnull=True).exists(),
        timeout=120,  # the worker's first PDF render may wait for the font cache
        message="both receipts sent by the worker",
    )
    sent = "".join(path.read_text(errors="replace") for path in Path(mail_dir).glob("*"))
    assert "admin@hanbit.example" in sent and "guest@example.com" in sent
    assert payment_receipts_requeue(older_than=datetime.timedelta(0)) == 0  # nothing twice
    assert len(list(Path(mail_dir).glob("*"))) == 2

    # With Redis back, a payment's receipt is queued at its commit again: no sweep needed.
    third = world["invoices"][2]
    key = _review_key(client.get("/payments/pay/", {"invoice": third.number}))
    paid = client.post(
        "/payments/pay/",
        {"idempotency_key": key, "invoice": third.number, "method": str(world["card"].id), "when": "today"},
    )
    assert paid.status_code == 302
    wait_until(
        lambda: not Payment.objects.filter(receipt_sent_at__isnull=True).exists(),
        timeout=60,
        message="the third receipt sent by the worker without the sweep",
    )
    assert len(list(Path(mail_dir).glob("*"))) == 3
