"""README: "Payments, allocations and webhooks are read-only there (the admin): money moves only
through the services."

Proven for the two kinds of billing staff the portal has: staff with the permissions the demo
seed gives the "Billing staff" group (view and change on the four apps) and a superuser. For
payments, their allocations, credit applications and received webhook events: the change page
has no editable field and no save button, a POST of changed money is refused and changes
nothing, add and delete are refused, and the list offers neither an add button nor the bulk
delete action. A webhook anomaly differs in one field only: staff may mark it resolved.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from invoices.models import Invoice
from payments.models import (
    CreditApplication,
    MethodKind,
    Payment,
    PaymentAllocation,
    PaymentStatus,
    WebhookAnomaly,
    WebhookEvent,
)
from tests.accounts.factories import CompanyFactory, ShippingAccountFactory, UserFactory
from tests.invoices.factories import InvoiceFactory

pytestmark = pytest.mark.django_db

# The names a read-only change page may carry in its forms: the CSRF token, and the
# language switch and log-out forms of the admin's header.
HARMLESS_NAMES = {"csrfmiddlewaretoken", "language", "next"}


@pytest.fixture(params=["seeded_billing_staff", "superuser"])
def staff(request, client):
    if request.param == "superuser":
        user = UserFactory(username="root_staff", is_staff=True, is_superuser=True)
    else:
        from billing_centre.seed.demo import _staff_group

        user = UserFactory(username="billing_staff", is_staff=True)
        user.groups.add(_staff_group())  # exactly the permissions `seed` gives billing staff
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def money():
    """A settled payment with its allocation, a credit applied, the webhook that settled it, an anomaly."""
    company = CompanyFactory(name="한빛물류")
    account = ShippingAccountFactory(company=company, number="A1B2C3")
    invoice = InvoiceFactory(account=account, number="INV100000001", total=Decimal("13000"), amount_paid=13000)
    credit = InvoiceFactory(account=account, number="INV100000002", total=Decimal("5000"), amount_paid=5000)
    payment = Payment.objects.create(
        reference="PAY000000001",
        idempotency_key="key-1",
        company=company,
        currency="KRW",
        amount=Decimal("13000"),
        status=PaymentStatus.SUCCEEDED,
        method_kind=MethodKind.CREDIT_CARD,
        gateway="stripe",
        gateway_reference="pi_1",
    )
    allocation = PaymentAllocation.objects.create(payment=payment, invoice=invoice, amount=Decimal("13000"))
    application = CreditApplication.objects.create(
        source_invoice=credit,
        target_invoice=invoice,
        amount=Decimal("1000"),
        currency="KRW",
        payment=payment,
        idempotency_key="key-1",
    )
    event = WebhookEvent.objects.create(
        event_id="evt_1", type="payment_intent.succeeded", payload={"id": "evt_1"}, processed_at=payment.created_at
    )
    anomaly = WebhookAnomaly.objects.create(
        event=event, payment=payment, reason=WebhookAnomaly.Reason.AMOUNT_MISMATCH, detail={"amount": 1}
    )
    return {
        Payment: payment,
        PaymentAllocation: allocation,
        CreditApplication: application,
        WebhookEvent: event,
        WebhookAnomaly: anomaly,
        Invoice: invoice,
    }


# A changed amount, status or payload for each read-only model (what a forged POST would send).
FORGED = {
    Payment: {"amount": "1", "status": PaymentStatus.FAILED, "currency": "USD", "reference": "PAY999999999"},
    PaymentAllocation: {"amount": "1", "payment": "", "invoice": ""},
    CreditApplication: {"amount": "99999", "currency": "USD", "idempotency_key": "forged"},
    WebhookEvent: {"event_id": "evt_forged", "type": "charge.refunded", "payload": "{}", "error": "x"},
}
READ_ONLY = list(FORGED)
ALL_MONEY = [*READ_ONLY, WebhookAnomaly]


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _snapshot(model):
    return list(model.objects.order_by("pk").values())


def _form_names(content: bytes) -> set[str]:
    """The names of the controls a person can type into, tick or choose (hidden inputs left out)."""
    controls = re.findall(r"<(?:input|select|textarea)\b[^>]*>", content.decode())
    names = {
        match.group(1)
        for control in controls
        if 'type="hidden"' not in control and (match := re.search(r'\sname="([^"]+)"', control))
    }
    return names - HARMLESS_NAMES


@pytest.mark.parametrize("model", READ_ONLY, ids=lambda m: m.__name__)
def test_the_change_page_shows_the_record_with_nothing_to_edit(staff, money, model):
    obj = money[model]

    response = staff.get(_url(model, "change", obj.pk))

    assert response.status_code == 200
    assert response.context["adminform"].form.fields == {}  # every field is shown read-only
    assert b'name="_save"' not in response.content
    assert b'name="_continue"' not in response.content
    assert _form_names(response.content) == set()  # not even an inline row or a delete box
    if model is Payment:
        assert '<div class="readonly">13000.00</div>' in response.content.decode()  # shown, not editable


@pytest.mark.parametrize("model", READ_ONLY, ids=lambda m: m.__name__)
def test_a_posted_change_of_money_is_refused_and_changes_nothing(staff, money, model):
    obj = money[model]
    before = _snapshot(model)

    response = staff.post(_url(model, "change", obj.pk), {**FORGED[model], "_save": "Save"})

    assert response.status_code == 403
    assert _snapshot(model) == before


@pytest.mark.parametrize("model", ALL_MONEY, ids=lambda m: m.__name__)
def test_add_and_delete_are_refused(staff, money, model):
    obj = money[model]
    before = _snapshot(model)

    assert staff.get(_url(model, "add")).status_code == 403
    assert staff.post(_url(model, "add"), FORGED.get(model, {"reason": "amount_mismatch"})).status_code == 403
    assert staff.get(_url(model, "delete", obj.pk)).status_code == 403
    assert staff.post(_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    assert _snapshot(model) == before


@pytest.mark.parametrize("model", ALL_MONEY, ids=lambda m: m.__name__)
def test_the_list_has_no_add_button_and_no_bulk_delete(staff, money, model):
    obj = money[model]
    before = _snapshot(model)
    url = _url(model, "changelist")

    response = staff.get(url)
    forged = staff.post(url, {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"})

    assert response.status_code == 200
    assert response.context["cl"].result_count == 1
    assert response.context["has_add_permission"] is False
    assert _url(model, "add").encode() not in response.content
    action_form = response.context["action_form"]  # None when the list has no action at all
    actions = {name for name, _label in action_form.fields["action"].choices if name} if action_form else set()
    assert "delete_selected" not in actions
    assert forged.status_code in (200, 302)  # Django answers an unknown action with the list
    assert _snapshot(model) == before


def test_an_anomaly_offers_only_its_resolved_flag(staff, money):
    anomaly = money[WebhookAnomaly]

    response = staff.get(_url(WebhookAnomaly, "change", anomaly.pk))

    assert response.status_code == 200
    assert set(response.context["adminform"].form.fields) == {"resolved"}
    assert _form_names(response.content) <= {"resolved", "_save", "_continue", "_addanother"}


def test_a_posted_anomaly_changes_only_its_resolved_flag(staff, money):
    anomaly = money[WebhookAnomaly]
    payment = money[Payment]
    payments_before = _snapshot(Payment)

    response = staff.post(
        _url(WebhookAnomaly, "change", anomaly.pk),
        {
            "resolved": "on",
            "reason": WebhookAnomaly.Reason.CURRENCY_MISMATCH,
            "detail": '{"amount": 13000}',
            "payment": "",
            "event": "",
            "resolved_by": "",
            "_save": "Save",
        },
    )

    assert response.status_code == 302
    anomaly.refresh_from_db()
    assert anomaly.resolved is True
    assert anomaly.resolved_by == staff.user  # set by the service, not by the form
    assert (anomaly.reason, anomaly.detail, anomaly.payment, anomaly.event_id) == (
        WebhookAnomaly.Reason.AMOUNT_MISMATCH,
        {"amount": 1},
        payment,
        money[WebhookEvent].pk,
    )
    assert _snapshot(Payment) == payments_before


def test_an_invoice_with_a_payment_cannot_be_deleted_to_drop_its_allocation(client, money):
    """Deleting from another page is no back door: an allocated invoice is protected."""
    client.force_login(UserFactory(username="root_staff", is_staff=True, is_superuser=True))
    invoice = money[Invoice]
    before = _snapshot(PaymentAllocation)

    response = client.post(_url(Invoice, "delete", invoice.pk), {"post": "yes"})

    assert response.status_code in (200, 403)  # "Cannot delete invoice": protected objects listed
    assert Invoice.objects.filter(pk=invoice.pk).exists()
    assert _snapshot(PaymentAllocation) == before
