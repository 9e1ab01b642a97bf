"""The billing staff's dispute queue in Django admin: filters, search, assignment, decisions, replies."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from disputes.models import Dispute, DisputeReason, DisputeStatus
from disputes.services import DisputeItemInput, dispute_file
from invoices.models import Invoice, InvoiceLine, LineKind

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:disputes_dispute_changelist")


def _filed(world, line_key="freight", amount="12000", reason=DisputeReason.WEIGHT):
    return dispute_file(
        invoice=world["invoice"],
        items=[DisputeItemInput(line_id=world[line_key].id, reason=reason, amount=Decimal(amount))],
        actor=world["users"]["payer"],
    )


def _results(response):
    return list(response.context["cl"].result_list)


@pytest.fixture
def staff(login, staff_user):
    return login(staff_user)


def test_customers_cannot_open_the_queue(login, world):
    response = login(world["users"]["administrator"]).get(CHANGELIST)

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_queue_filters_by_status_reason_amount_assignee_and_age(staff, world, staff_user, settings):
    settings.DISPUTE_SUPERVISOR_THRESHOLD = {"KRW": 15000}
    weight = _filed(world, "freight", "12000", DisputeReason.WEIGHT)
    surcharge = _filed(world, "second", "20000", DisputeReason.SURCHARGE)
    Dispute.objects.filter(pk=surcharge.pk).update(
        assignee=staff_user, created_at=timezone.now() - datetime.timedelta(days=40)
    )

    assert _results(staff.get(CHANGELIST, {"reason": "surcharge"})) == [surcharge]
    assert _results(staff.get(CHANGELIST, {"amount": "above"})) == [surcharge]
    assert _results(staff.get(CHANGELIST, {"amount": "below"})) == [weight]
    assert _results(staff.get(CHANGELIST, {"assignee": "me"})) == [surcharge]
    assert _results(staff.get(CHANGELIST, {"assignee": "none"})) == [weight]
    assert _results(staff.get(CHANGELIST, {"age": "31-60"})) == [surcharge]
    assert _results(staff.get(CHANGELIST, {"age": "0-7"})) == [weight]
    assert set(_results(staff.get(CHANGELIST, {"status__exact": "submitted"}))) == {weight, surcharge}
    assert set(_results(staff.get(CHANGELIST, {"company__id__exact": world["company"].pk}))) == {weight, surcharge}


@pytest.mark.parametrize("query", ["INV000000101", "A1B2C3", "1Z0000000000000101"])
def test_queue_searches_by_invoice_account_and_tracking_number(staff, world, query):
    tracked = _filed(world, "freight")
    _filed(world, "second")

    results = _results(staff.get(CHANGELIST, {"q": query}))

    assert tracked in results
    if query.startswith("1Z"):
        assert len(results) == 1


def test_assign_to_me_puts_disputes_under_review(staff, world, staff_user):
    first, second = _filed(world, "freight"), _filed(world, "second")

    response = staff.post(
        CHANGELIST, {"action": "assign_to_me", "_selected_action": [first.pk, second.pk]}, follow=True
    )

    assert response.status_code == 200
    assert set(Dispute.objects.values_list("assignee__username", "status")) == {("billing_staff", "under_review")}
    assert AuditEvent.objects.filter(action="dispute.assigned", actor=staff_user).count() == 2


def test_bulk_assign_asks_for_the_staff_member_then_assigns(staff, world, supervisor):
    first, second = _filed(world, "freight"), _filed(world, "second")
    data = {"action": "assign_to", "_selected_action": [first.pk, second.pk]}

    ask = staff.post(CHANGELIST, data)
    done = staff.post(CHANGELIST, {**data, "apply": "1", "assignee": supervisor.pk})

    assert ask.status_code == 200
    assert "assignee" in ask.context["form"].fields
    assert done.status_code == 302
    assert set(Dispute.objects.values_list("assignee", flat=True)) == {supervisor.pk}


def test_the_change_page_offers_decide_reply_and_assign(staff, world):
    dispute = _filed(world)

    html = staff.get(reverse("admin:disputes_dispute_change", args=[dispute.pk])).content.decode()

    assert reverse("admin:disputes_dispute_decide", args=[dispute.pk]) in html
    assert reverse("admin:disputes_dispute_reply", args=[dispute.pk]) in html
    assert reverse("admin:disputes_dispute_take", args=[dispute.pk]) in html


def test_take_assigns_to_the_staff_member(staff, world, staff_user):
    dispute = _filed(world)

    staff.post(reverse("admin:disputes_dispute_take", args=[dispute.pk]))

    dispute.refresh_from_db()
    assert dispute.assignee == staff_user


def test_staff_approve_in_part_and_the_credit_reaches_the_invoice(
    staff, world, staff_user, mailoutbox, django_capture_on_commit_callbacks
):
    dispute = _filed(world, "second", "20000")
    url = reverse("admin:disputes_dispute_decide", args=[dispute.pk])

    assert staff.get(url).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(url, {"decision": "partial", "amount": "7000", "reason": "", "reply": "일부 승인합니다."})

    assert response.status_code == 302
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.PARTLY_APPROVED
    assert dispute.decided_by == staff_user
    assert Invoice.objects.get(pk=world["invoice"].pk).balance == Decimal("48000")
    assert InvoiceLine.objects.get(invoice=world["invoice"], kind=LineKind.ADJUSTMENT).amount == Decimal("-7000")
    assert len(mailoutbox) == 1
    assert "일부 승인합니다." in mailoutbox[0].body


def test_a_rejection_without_a_reason_is_refused_on_the_form(staff, world):
    dispute = _filed(world)

    response = staff.post(reverse("admin:disputes_dispute_decide", args=[dispute.pk]), {"decision": "reject"})

    assert response.status_code == 400
    assert "reason" in response.context["form"].errors
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.SUBMITTED


def test_a_large_credit_needs_the_supervisor_permission(login, world, staff_user, supervisor, settings):
    settings.DISPUTE_SUPERVISOR_THRESHOLD = {"KRW": 10000}
    dispute = _filed(world, "second", "20000")
    url = reverse("admin:disputes_dispute_decide", args=[dispute.pk])

    refused = login(staff_user).post(url, {"decision": "approve"})
    assert refused.status_code == 400
    assert Invoice.objects.get(pk=world["invoice"].pk).total == Decimal("55000")

    approved = login(supervisor).post(url, {"decision": "approve"})
    assert approved.status_code == 302
    assert Invoice.objects.get(pk=world["invoice"].pk).total == Decimal("35000")


def test_staff_without_change_permission_cannot_decide(login, world):
    from django.contrib.auth.models import Permission

    from tests.accounts.factories import UserFactory

    reader = UserFactory(username="reader", is_staff=True)
    reader.user_permissions.add(Permission.objects.get(codename="view_dispute"))
    dispute = _filed(world)

    response = login(reader).post(reverse("admin:disputes_dispute_decide", args=[dispute.pk]), {"decision": "approve"})

    assert response.status_code == 403
    assert Invoice.objects.get(pk=world["invoice"].pk).total == Decimal("55000")


def test_staff_reply_emails_the_filer_and_internal_notes_stay_internal(
    staff, login, world, staff_user, mailoutbox, django_capture_on_commit_callbacks
):
    dispute = _filed(world)
    url = reverse("admin:disputes_dispute_reply", args=[dispute.pk])

    with django_capture_on_commit_callbacks(execute=True):
        staff.post(url, {"body": "운송장 사진을 보내 주세요."})
    with django_capture_on_commit_callbacks(execute=True):
        staff.post(url, {"body": "STAFF-ONLY 재확인 필요", "internal": "on"})

    assert [m.body.count("운송장 사진을 보내 주세요.") for m in mailoutbox] == [1]
    customer_page = login(world["users"]["payer"]).get(reverse("disputes:detail", args=[dispute.reference]))
    assert "운송장 사진을 보내 주세요." in customer_page.content.decode()
    assert "STAFF-ONLY" not in customer_page.content.decode()
    staff_page = login(staff_user).get(reverse("admin:disputes_dispute_change", args=[dispute.pk]))
    assert "STAFF-ONLY" in staff_page.content.decode()


def test_empty_reply_is_refused(staff, world):
    dispute = _filed(world)

    response = staff.post(reverse("admin:disputes_dispute_reply", args=[dispute.pk]), {"body": ""})

    assert response.status_code == 400
    assert not dispute.messages.exists()


def test_close_action_closes_decided_disputes(staff, world, staff_user):
    from disputes.services import Decision, dispute_decide

    dispute = _filed(world)
    dispute_decide(dispute=dispute, decision=Decision.APPROVE, actor=staff_user)

    staff.post(CHANGELIST, {"action": "close_disputes", "_selected_action": [dispute.pk]})

    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.CLOSED


def test_disputes_cannot_be_added_or_deleted_in_admin(staff, world):
    dispute = _filed(world)

    assert staff.get(reverse("admin:disputes_dispute_add")).status_code == 403
    assert staff.get(reverse("admin:disputes_dispute_delete", args=[dispute.pk])).status_code == 403
