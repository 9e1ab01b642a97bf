"""Payment services: one payment per attempt, declines leave invoices payable, timeouts reconcile."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import call_command

from accounts.models import AuditEvent
from core.exceptions import ApplicationError
from invoices.models import Invoice, InvoiceStatus
from payments import services
from payments.gateways import ChargeResult
from payments.models import Payment, PaymentStatus, SimulatedCharge
from tests.accounts.factories import ShippingAccountFactory
from tests.invoices.factories import InvoiceFactory

from .conftest import CARD_EXPIRED, CARD_INSUFFICIENT, CARD_PROCESSING_ERROR, CARD_TIMEOUT, card_method, future

pytestmark = pytest.mark.django_db


def pay(user, invoices, method, key="key-1", **kwargs):
    return services.payment_create(
        actor=user,
        invoice_ids=[i.id for i in invoices],
        source=services.PaymentSource.from_method(method),
        idempotency_key=key,
        payer_email=getattr(user, "email", ""),
        **kwargs,
    )


def test_successful_payment_pays_the_full_balance_and_is_audited(
    admin_user, invoice, wallet_card, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        outcome = pay(admin_user, [invoice], wallet_card)

    [payment] = outcome.payments
    invoice.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.amount == Decimal("13000")
    assert invoice.amount_paid == Decimal("13000")
    assert invoice.status == InvoiceStatus.PAID
    actions = list(AuditEvent.objects.filter(target_id=str(payment.id)).values_list("action", flat=True))
    assert sorted(actions) == ["payment.created", "payment.processing", "payment.succeeded"]
    assert len(mail.outbox) == 1
    assert payment.reference in mail.outbox[0].subject
    assert mail.outbox[0].attachments[0][2] == "application/pdf"


def test_same_idempotency_key_twice_makes_one_payment(admin_user, invoice, wallet_card):
    first = pay(admin_user, [invoice], wallet_card, key="same")
    second = pay(admin_user, [invoice], wallet_card, key="same")

    assert second.replayed is True
    assert [p.id for p in second.payments] == [p.id for p in first.payments]
    assert Payment.objects.count() == 1
    assert SimulatedCharge.objects.count() == 1


def test_second_attempt_with_a_new_key_on_a_paid_invoice_is_refused(admin_user, invoice, wallet_card):
    pay(admin_user, [invoice], wallet_card, key="a")

    with pytest.raises(ApplicationError):
        pay(admin_user, [invoice], wallet_card, key="b")
    assert Payment.objects.count() == 1


@pytest.mark.parametrize(
    ("number", "code"),
    [
        (CARD_INSUFFICIENT, "insufficient_funds"),
        (CARD_EXPIRED, "expired_card"),
        (CARD_PROCESSING_ERROR, "processing_error"),
    ],
)
def test_declines_fail_the_payment_and_leave_the_invoice_payable(admin_user, company, invoice, number, code):
    method = card_method(company, number)

    [payment] = pay(admin_user, [invoice], method).payments

    invoice.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED
    assert payment.failure_code == code
    assert payment.failure_message == services.decline_message(code)
    assert invoice.amount_paid == 0
    assert invoice.status == InvoiceStatus.OPEN
    # and it can be paid afterwards with a good card
    [retry] = pay(admin_user, [invoice], card_method(company, default=False), key="retry").payments
    assert retry.status == PaymentStatus.SUCCEEDED


def test_timeout_leaves_processing_and_reconcile_settles_it_without_charging_again(admin_user, company, invoice):
    method = card_method(company, CARD_TIMEOUT)

    [payment] = pay(admin_user, [invoice], method).payments
    invoice.refresh_from_db()
    assert payment.status == PaymentStatus.PROCESSING
    assert invoice.amount_paid == 0
    # the balance is reserved: another attempt cannot take it
    with pytest.raises(ApplicationError):
        pay(admin_user, [invoice], card_method(company, default=False), key="other")

    call_command("reconcile_payments")

    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert invoice.status == InvoiceStatus.PAID
    assert SimulatedCharge.objects.count() == 1


def test_processing_payment_never_sent_fails_after_the_grace_period(admin_user, invoice, wallet_card):
    payment = Payment.objects.create(
        reference="PMLOST",
        idempotency_key="lost:KRW",
        company=invoice.account.company,
        currency="KRW",
        amount=Decimal("13000"),
        status=PaymentStatus.PROCESSING,
        method_kind="credit_card",
        gateway="simulated",
    )
    payment.allocations.create(invoice=invoice, amount=Decimal("13000"))
    Payment.objects.filter(pk=payment.pk).update(created_at=payment.created_at - datetime.timedelta(hours=1))

    services.payment_reconcile()

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED
    assert payment.failure_code == "not_sent"


def test_settle_is_idempotent_and_never_pays_above_the_balance(admin_user, invoice, company):
    [payment] = pay(admin_user, [invoice], card_method(company, CARD_TIMEOUT)).payments
    # the invoice was credited meanwhile (a dispute): only the remaining balance is applied
    Invoice.objects.filter(pk=invoice.pk).update(total=Decimal("10000"))

    services.payment_settle(payment_id=payment.id, result=ChargeResult.succeeded("sim_x"))
    services.payment_settle(payment_id=payment.id, result=ChargeResult.succeeded("sim_x"))

    invoice.refresh_from_db()
    assert invoice.amount_paid == Decimal("10000")
    assert invoice.balance == 0


def test_one_payment_per_currency(admin_user, company, wallet_card):
    krw = InvoiceFactory(
        account=ShippingAccountFactory(company=company),
        total=Decimal("5000"),
        due_date=future(10),
        invoice_date=future(0),
    )
    usd_account = ShippingAccountFactory(company=company, currency="USD", country="US")
    usd = InvoiceFactory(account=usd_account, total=Decimal("12.34"), due_date=future(10), invoice_date=future(0))

    payments = pay(admin_user, [krw, usd], wallet_card).payments

    assert sorted((p.currency, p.amount) for p in payments) == [("KRW", Decimal("5000")), ("USD", Decimal("12.34"))]
    assert all(p.status == PaymentStatus.SUCCEEDED for p in payments)


def test_temporary_account_invoices_are_listed_apart_and_not_paid(admin_user, company, invoice, wallet_card):
    temporary = InvoiceFactory(
        account=ShippingAccountFactory(company=company, number="1234567890"), due_date=future(5), invoice_date=future(0)
    )

    checks = services.invoice_checks(
        Invoice.objects.filter(id__in=[invoice.id, temporary.id]).select_related("account", "plan")
    )
    reasons = {c.invoice.number: c.reason for c in checks}
    assert reasons == {invoice.number: "", temporary.number: services.Reason.TEMPORARY}

    [payment] = pay(admin_user, [invoice, temporary], wallet_card).payments
    assert [a.invoice_id for a in payment.allocations.all()] == [invoice.id]
    temporary.refresh_from_db()
    assert temporary.amount_paid == 0


def test_method_not_allowed_in_the_country_is_refused(admin_user, company, settings):
    account = ShippingAccountFactory(company=company, country="JP", currency="JPY")
    invoice = InvoiceFactory(account=account, total=Decimal("500"), due_date=future(5), invoice_date=future(0))
    bank = card_method(company)
    bank.kind = "bank_debit"
    bank.save()

    with pytest.raises(ApplicationError) as excinfo:
        pay(admin_user, [invoice], bank)
    assert excinfo.value.code == "method_not_allowed"
    assert Payment.objects.count() == 0


def test_scheduled_payment_is_kept_scheduled_up_to_the_due_date(admin_user, invoice, wallet_card):
    [payment] = pay(admin_user, [invoice], wallet_card, scheduled_for=future(10)).payments

    assert payment.status == PaymentStatus.SCHEDULED
    assert payment.scheduled_for == future(10)
    assert SimulatedCharge.objects.count() == 0
    with pytest.raises(ApplicationError):
        pay(admin_user, [invoice], wallet_card, key="late", scheduled_for=future(40))


def test_transition_table_is_enforced(admin_user, invoice, wallet_card):
    [payment] = pay(admin_user, [invoice], wallet_card).payments

    with pytest.raises(ApplicationError):
        services.payment_transition(payment=payment, to=PaymentStatus.PROCESSING)


def test_deleting_a_method_used_by_autopay_pauses_it_and_emails_administrators(
    admin_user, company, account, wallet_card, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    from payments.models import AutoPaySchedule

    schedule = AutoPaySchedule.objects.create(
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

    with django_capture_on_commit_callbacks(execute=True):
        stopped = services.payment_method_delete(actor=admin_user, method=wallet_card)

    schedule.refresh_from_db()
    assert stopped == [schedule]
    assert schedule.status == AutoPaySchedule.Status.PAUSED
    assert schedule.method is None
    assert AuditEvent.objects.filter(action="autopay.paused").count() == 1
    assert mail.outbox and mail.outbox[-1].to == [admin_user.email]


def test_pay_now_lookup_locks_out_after_repeated_failures_and_audits_it(invoice):
    for _ in range(services.PAY_NOW_LIMIT_PER_ACCOUNT):
        with pytest.raises(services.PayNowRefusal) as excinfo:
            services.pay_now_lookup(
                account_number="A1B2C3", invoice_number="NOPE", amount=Decimal(1), ip_address="10.0.0.1"
            )
        assert excinfo.value.code == "unknown"

    with pytest.raises(services.PayNowRefusal) as excinfo:
        services.pay_now_lookup(
            account_number="A1B2C3", invoice_number=invoice.number, amount=Decimal("13000"), ip_address="10.0.0.2"
        )
    assert excinfo.value.code == "locked"
    assert AuditEvent.objects.filter(action="pay_now.locked_out").count() == 1


def test_scheduled_payment_runs_on_its_date_and_pays(admin_user, invoice, wallet_card):
    [payment] = pay(admin_user, [invoice], wallet_card, scheduled_for=future(10)).payments

    ran = services.payment_scheduled_run(payment_id=payment.id)

    invoice.refresh_from_db()
    assert ran.status == PaymentStatus.SUCCEEDED
    assert invoice.status == InvoiceStatus.PAID
    assert services.payment_scheduled_run(payment_id=payment.id).status == PaymentStatus.SUCCEEDED
    assert SimulatedCharge.objects.count() == 1


def test_scheduled_payment_is_cancelled_when_the_balance_fell(admin_user, invoice, wallet_card):
    [payment] = pay(admin_user, [invoice], wallet_card, scheduled_for=future(10)).payments
    Invoice.objects.filter(pk=invoice.pk).update(total=Decimal("9000"))

    ran = services.payment_scheduled_run(payment_id=payment.id)

    assert ran.status == PaymentStatus.CANCELLED
    assert SimulatedCharge.objects.count() == 0


def test_cancelling_a_scheduled_payment_makes_the_invoice_payable_again(admin_user, invoice, wallet_card):
    [scheduled] = pay(admin_user, [invoice], wallet_card, key="s", scheduled_for=future(10)).payments

    services.payment_cancel(payment=scheduled, actor=admin_user)

    [now] = pay(admin_user, [invoice], wallet_card, key="now").payments
    assert now.status == PaymentStatus.SUCCEEDED
    assert AuditEvent.objects.filter(action="payment.cancelled").count() == 1
