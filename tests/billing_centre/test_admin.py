"""Django admin for billing staff: every model registered and usable, bounded queries, audit read-only."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, Membership, Role
from accounts.services import audit_record
from disputes.models import Dispute, DisputeItem, DisputeMessage, DisputeReason
from payments.models import AutoPaySchedule, MethodKind, Payment, PaymentAllocation, PaymentMethod, WebhookEvent
from tests.accounts.factories import (
    BillingPlanFactory,
    CompanyFactory,
    MembershipFactory,
    ShippingAccountFactory,
    UserFactory,
)
from tests.invoices.factories import InvoiceFactory, InvoiceLineFactory, ShipmentFactory

APPS = ("accounts", "invoices", "payments", "disputes")

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    user = UserFactory(username="billingstaff", is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


@pytest.fixture
def world():
    """One row of every model of the four apps, linked the way real data is."""
    company = CompanyFactory(name="한빛물류")
    plan = BillingPlanFactory(company=company, number="P0000001")
    account = ShippingAccountFactory(company=company, plan=plan, number="A1B2C3")
    user = UserFactory(username="kim", name="김민수")
    membership = MembershipFactory(user=user, company=company, role=Role.PAYER, accounts=[account])
    shipment = ShipmentFactory(account=account, tracking_number="1Z999AA10123456784")
    invoice = InvoiceFactory(account=account, number="INV100000001", total=Decimal("13000"))
    line = InvoiceLineFactory(invoice=invoice, shipment=shipment, amount=Decimal("13000"))
    method = PaymentMethod.objects.create(
        company=company,
        kind=MethodKind.CREDIT_CARD,
        nickname="법인카드",
        brand="visa",
        last4="4242",
        exp_month=12,
        exp_year=2030,
        gateway="simulated",
        gateway_token="tok_test",
        is_default=True,
    )
    payment = Payment.objects.create(
        reference="PAY000000001",
        idempotency_key="key-1",
        company=company,
        currency="KRW",
        amount=Decimal("13000"),
        method=method,
        method_kind=MethodKind.CREDIT_CARD,
        gateway="simulated",
    )
    allocation = PaymentAllocation.objects.create(payment=payment, invoice=invoice, amount=Decimal("13000"))
    schedule = AutoPaySchedule.objects.create(
        company=company,
        account=account,
        method=method,
        amount_mode=AutoPaySchedule.AmountMode.UP_TO_LIMIT,
        limit_amount=Decimal("500000"),
        timing=AutoPaySchedule.Timing.DAYS_BEFORE_DUE,
        days_before_due=3,
        start_date=datetime.date(2026, 11, 1),
        consent_at=timezone.now(),
        terms_version="2026-01",
    )
    webhook = WebhookEvent.objects.create(event_id="evt_1", type="payment_intent.succeeded", payload={})
    dispute = Dispute.objects.create(reference="DSP000000001", company=company, invoice=invoice, filed_by=user)
    item = DisputeItem.objects.create(dispute=dispute, line=line, reason=DisputeReason.WEIGHT, amount=Decimal("3000"))
    message = DisputeMessage.objects.create(dispute=dispute, author=user, body="무게가 다릅니다.")
    event = audit_record(action="membership.role_changed", actor=user, company=company, target=membership)
    return {
        m._meta.label: obj
        for m, obj in [
            (type(company), company),
            (type(plan), plan),
            (type(account), account),
            (type(user), user),
            (Membership, membership),
            (type(shipment), shipment),
            (type(invoice), invoice),
            (type(line), line),
            (PaymentMethod, method),
            (Payment, payment),
            (PaymentAllocation, allocation),
            (AutoPaySchedule, schedule),
            (WebhookEvent, webhook),
            (Dispute, dispute),
            (DisputeItem, item),
            (DisputeMessage, message),
            (AuditEvent, event),
        ]
    }


def _registered_models():
    return sorted(
        (model for model in admin.site._registry if model._meta.app_label in APPS),
        key=lambda model: model._meta.label,
    )


def _admin_url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_every_model_of_the_four_apps_is_registered():
    models = {model._meta.label for app in APPS for model in apps.get_app_config(app).get_models()}
    registered = {model._meta.label for model in _registered_models()}

    assert models - registered == set()


@pytest.mark.parametrize("model", _registered_models(), ids=lambda m: m._meta.label)
def test_staff_opens_every_changelist_with_its_rows(staff, world, model):
    response = staff.get(_admin_url(model, "changelist"))

    assert response.status_code == 200
    if model._meta.label in world:
        assert response.context["cl"].result_count >= 1


@pytest.mark.parametrize(
    "label",
    [
        "accounts.User",
        "accounts.Company",
        "accounts.ShippingAccount",
        "accounts.BillingPlan",
        "accounts.Membership",
        "accounts.AuditEvent",
        "invoices.Invoice",
        "invoices.InvoiceLine",
        "invoices.Shipment",
        "payments.PaymentMethod",
        "payments.Payment",
        "payments.PaymentAllocation",
        "payments.AutoPaySchedule",
        "payments.WebhookEvent",
        "disputes.Dispute",
        "disputes.DisputeItem",
        "disputes.DisputeMessage",
    ],
)
def test_staff_opens_a_change_page_of_every_model(staff, world, label):
    obj = world[label]

    response = staff.get(_admin_url(type(obj), "change", obj.pk))

    assert response.status_code == 200


def test_changelist_searches_by_invoice_account_tracking_number_and_company(staff, world):
    from invoices.models import Invoice, Shipment

    other = InvoiceFactory(number="INV900000009")
    invoices = _admin_url(Invoice, "changelist")

    for query in ("INV100000001", "A1B2C3", "한빛물류"):
        response = staff.get(invoices, {"q": query})
        numbers = [invoice.number for invoice in response.context["cl"].result_list]
        assert numbers == ["INV100000001"], query
    assert [i.number for i in staff.get(invoices, {"q": other.number}).context["cl"].result_list] == [other.number]

    response = staff.get(_admin_url(Shipment, "changelist"), {"q": "1Z999AA10123456784"})
    assert [s.tracking_number for s in response.context["cl"].result_list] == ["1Z999AA10123456784"]


def test_invoice_changelist_shows_money_in_its_currency(staff, world):
    from invoices.models import Invoice

    usd = ShippingAccountFactory(number="US0001", currency="USD", country="US")
    InvoiceFactory(account=usd, number="INV200000001", currency="USD", total=Decimal("12.34"))

    response = staff.get(_admin_url(Invoice, "changelist"))

    content = response.content.decode()
    assert "₩13,000" in content
    assert "$12.34" in content


def test_invoice_changelist_query_count_does_not_grow_with_rows(staff, world):
    from invoices.models import Invoice

    url = _admin_url(Invoice, "changelist")
    with CaptureQueriesContext(connection) as few:
        assert staff.get(url).status_code == 200

    for n in range(15):
        plan_invoice = n % 3 == 0
        if plan_invoice:
            InvoiceFactory(account=None, plan=BillingPlanFactory(), number=f"INV3{n:08d}")
        else:
            InvoiceFactory(number=f"INV3{n:08d}")
    with CaptureQueriesContext(connection) as many:
        response = staff.get(url)

    assert response.context["cl"].result_count == 16
    assert len(many) == len(few)


def test_generated_invoice_fields_are_read_only(staff, world):
    invoice = world["invoices.Invoice"]

    response = staff.get(_admin_url(type(invoice), "change", invoice.pk))

    form = response.context["adminform"].form
    assert "balance" not in form.fields
    assert "status" not in form.fields
    assert "amount_paid" not in form.fields
    assert "total" in form.fields


def test_audit_events_cannot_be_added_changed_or_deleted_even_by_a_superuser(staff, world):
    event = world["accounts.AuditEvent"]
    before = AuditEvent.objects.count()

    assert staff.get(_admin_url(AuditEvent, "add")).status_code == 403
    assert staff.post(_admin_url(AuditEvent, "add"), {"action": "forged"}).status_code == 403
    change = staff.get(_admin_url(AuditEvent, "change", event.pk))
    assert change.status_code == 200
    assert b'name="_save"' not in change.content
    assert staff.post(_admin_url(AuditEvent, "change", event.pk), {"action": "forged"}).status_code == 403
    assert staff.post(_admin_url(AuditEvent, "delete", event.pk), {"post": "yes"}).status_code == 403

    event.refresh_from_db()
    assert event.action == "membership.role_changed"
    assert AuditEvent.objects.count() == before


def test_staff_adds_a_user_with_name_and_email(staff):
    from accounts.models import User

    response = staff.post(
        _admin_url(User, "add"),
        {
            "username": "newstaff",
            "email": "newstaff@example.com",
            "name": "이서연",
            "password1": "a-long-unusual-passphrase-42",
            "password2": "a-long-unusual-passphrase-42",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 302
    user = User.objects.get(username="newstaff")
    assert (user.email, user.name) == ("newstaff@example.com", "이서연")
    assert user.check_password("a-long-unusual-passphrase-42")


def test_non_staff_user_cannot_open_the_admin(client):
    client.force_login(UserFactory(username="customer"))

    response = client.get(reverse("admin:invoices_invoice_changelist"))

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_invoice_changelist_filters_by_generated_status(staff, world):
    from invoices.models import Invoice

    InvoiceFactory(number="INV400000001", total=Decimal("5000"), amount_paid=Decimal("5000"))

    response = staff.get(_admin_url(Invoice, "changelist"), {"status": "paid"})

    assert [invoice.number for invoice in response.context["cl"].result_list] == ["INV400000001"]
