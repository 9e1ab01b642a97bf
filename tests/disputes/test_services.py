"""Filing, the staff workflow to a credit, and e-mails, through the services."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from accounts.models import AuditEvent, InvoiceDelivery
from core.exceptions import ApplicationError
from disputes.models import Dispute, DisputeEvent, DisputeReason, DisputeStatus
from disputes.services import (
    MAX_ATTACHMENT_BYTES,
    Decision,
    DisputeItemInput,
    attachment_sniff,
    dispute_assign,
    dispute_decide,
    dispute_file,
    dispute_file_bulk,
    dispute_message_post,
    dispute_transition,
    dispute_withdraw,
)
from invoices.models import Invoice, InvoiceLine, LineKind
from tests.accounts.factories import ShippingAccountFactory
from tests.invoices.factories import InvoiceFactory, InvoiceLineFactory

from .conftest import JPEG, PDF, PNG

pytestmark = pytest.mark.django_db


def _file(world, *items, user="payer", **kwargs):
    return dispute_file(
        invoice=world["invoice"],
        items=list(items),
        actor=world["users"][user],
        **kwargs,
    )


def _item(line, amount, reason=DisputeReason.WEIGHT):
    return DisputeItemInput(line_id=line.id if line else None, reason=reason, amount=Decimal(amount))


# --- Filing ---------------------------------------------------------------------------------------


def test_filing_records_items_total_event_and_audit(world):
    dispute = _file(world, _item(world["freight"], "12000"), _item(world["surcharge"], "5000", DisputeReason.SURCHARGE))

    assert dispute.status == DisputeStatus.SUBMITTED
    assert dispute.disputed_amount == Decimal("17000")
    assert dispute.company == world["company"]
    assert sorted(i.amount for i in dispute.items.all()) == [Decimal("5000"), Decimal("12000")]
    assert list(dispute.events.values_list("from_status", "to_status")) == [("", "submitted")]
    event = AuditEvent.objects.get(action="dispute.filed")
    assert event.actor == world["users"]["payer"]
    assert event.data["invoice"] == "INV000000101"


def test_filing_leaves_the_invoice_payable_and_unchanged(world):
    _file(world, _item(world["freight"], "30000"))

    invoice = Invoice.objects.get(pk=world["invoice"].pk)
    assert invoice.total == Decimal("55000")
    assert invoice.balance == Decimal("55000")
    assert invoice.status == "open"


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        ("30001", "amount_above_charge"),
        ("0", "amount_not_positive"),
        ("-5", "amount_not_positive"),
        ("100.5", "amount_precision"),
    ],
)
def test_filing_refuses_a_bad_amount(world, amount, code):
    with pytest.raises(ApplicationError) as refused:
        _file(world, _item(world["freight"], amount))

    assert refused.value.code == code
    assert not Dispute.objects.exists()


def test_filing_refuses_no_charge_selected(world):
    with pytest.raises(ApplicationError) as refused:
        _file(world)

    assert refused.value.code == "no_items"


def test_filing_refuses_a_line_of_another_invoice(world):
    foreign = InvoiceLineFactory(invoice=InvoiceFactory(account=world["account"]), amount=Decimal("9000"))

    with pytest.raises(ApplicationError) as refused:
        _file(world, _item(foreign, "1000"))

    assert refused.value.code == "foreign_line"
    assert not Dispute.objects.exists()


def test_filing_refuses_a_credit_line(world):
    credit = InvoiceLineFactory(invoice=world["invoice"], kind=LineKind.ADJUSTMENT, amount=Decimal("-1000"))

    with pytest.raises(ApplicationError) as refused:
        _file(world, _item(credit, "1000"))

    assert refused.value.code == "not_a_charge"


def test_filing_refuses_whole_invoice_together_with_lines(world):
    with pytest.raises(ApplicationError) as refused:
        _file(world, _item(None, "1000"), _item(world["freight"], "1000"))

    assert refused.value.code == "whole_and_lines"


def test_whole_invoice_amount_is_at_most_the_invoice_total(world):
    with pytest.raises(ApplicationError):
        _file(world, _item(None, "55001"))

    dispute = _file(world, _item(None, "55000"))
    assert dispute.items.get().line is None


def test_a_charge_in_an_open_dispute_cannot_be_disputed_again_until_decided(world, staff_user):
    first = _file(world, _item(world["freight"], "1000"))

    with pytest.raises(ApplicationError) as refused:
        _file(world, _item(world["freight"], "2000"))
    assert refused.value.code == "already_disputed"
    with pytest.raises(ApplicationError):
        _file(world, _item(None, "2000"))

    dispute_decide(dispute=first, decision=Decision.REJECT, reason="무게가 맞습니다.", actor=staff_user)
    again = _file(world, _item(world["freight"], "2000"))
    assert again.status == DisputeStatus.SUBMITTED


@pytest.mark.parametrize("user", ["viewer", "outsider", "unassigned"])
def test_filing_needs_the_dispute_right_on_the_invoice(world, user):
    with pytest.raises(ApplicationError):
        _file(world, _item(world["freight"], "1000"), user=user)

    assert not Dispute.objects.exists()


@pytest.mark.parametrize("user", ["administrator", "manager", "payer"])
def test_administrators_managers_and_payers_may_file(world, user):
    assert _file(world, _item(world["freight"], "1000"), user=user).filed_by == world["users"][user]


def test_paper_invoice_account_cannot_dispute_online(world):
    world["account"].invoice_delivery = InvoiceDelivery.PAPER
    world["account"].save()

    with pytest.raises(ApplicationError) as refused:
        _file(world, _item(world["freight"], "1000"))

    assert refused.value.code == "paper"
    assert "02-1234-5678" in str(refused.value.message)


def test_temporary_account_number_cannot_dispute_online(world):
    temporary = ShippingAccountFactory(company=world["company"], number="1234567890")
    invoice = InvoiceFactory(account=temporary)
    line = InvoiceLineFactory(invoice=invoice, amount=Decimal("10000"))

    with pytest.raises(ApplicationError) as refused:
        dispute_file(invoice=invoice, items=[_item(line, "100")], actor=world["users"]["administrator"])

    assert refused.value.code == "temporary"


# --- Attachments ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [(PDF, "application/pdf"), (PNG, "image/png"), (JPEG, "image/jpeg"), (b"MZ\x90\x00", None), (b"<html>", None)],
)
def test_attachment_type_is_decided_from_the_content(head, expected):
    sniffed = attachment_sniff(head)
    assert (sniffed[0] if sniffed else None) == expected


def test_attachments_are_stored_under_media_root_with_random_names(world, settings):
    upload = SimpleUploadedFile("무게 증빙.pdf", PDF, content_type="application/pdf")

    dispute = _file(world, _item(world["freight"], "1000"), attachments=[upload])

    attachment = dispute.attachments.get()
    assert attachment.content_type == "application/pdf"
    assert attachment.size == len(PDF)
    assert attachment.name.endswith(".pdf")
    stored = Path(settings.MEDIA_ROOT) / attachment.file
    assert stored.read_bytes() == PDF
    assert "무게" not in attachment.file


def test_a_disguised_attachment_is_refused_whatever_its_name_and_claimed_type(world):
    upload = SimpleUploadedFile("invoice.pdf", b"MZ\x90\x00 not a pdf", content_type="application/pdf")

    with pytest.raises(ApplicationError) as refused:
        _file(world, _item(world["freight"], "1000"), attachments=[upload])

    assert refused.value.field == "attachments"
    assert not Dispute.objects.exists()


def test_an_attachment_over_5_mb_is_refused(world):
    upload = SimpleUploadedFile("big.png", PNG + b"\x00" * MAX_ATTACHMENT_BYTES, content_type="image/png")

    with translation.override("en"):  # the assertion reads the English msgid; Korean is the default
        with pytest.raises(ApplicationError) as refused:
            _file(world, _item(world["freight"], "1000"), attachments=[upload])
        message = str(refused.value.message)

    assert refused.value.field == "attachments"
    assert "5 MB" in message


def test_an_attachment_of_exactly_5_mb_is_accepted(world):
    upload = SimpleUploadedFile("max.png", PNG + b"\x00" * (MAX_ATTACHMENT_BYTES - len(PNG)), content_type="image/png")

    dispute = _file(world, _item(world["freight"], "1000"), attachments=[upload])

    assert dispute.attachments.get().size == MAX_ATTACHMENT_BYTES


# --- Bulk -----------------------------------------------------------------------------------------


def test_bulk_filing_disputes_each_whole_invoice_for_one_reason(world):
    second = InvoiceFactory(account=world["account"], total=Decimal("42000"))
    upload = SimpleUploadedFile("proof.jpg", JPEG, content_type="image/jpeg")

    disputes = dispute_file_bulk(
        invoices=[world["invoice"], second],
        reason=DisputeReason.DUPLICATE,
        comment="중복 청구",
        attachments=[upload],
        actor=world["users"]["payer"],
    )

    assert sorted(d.disputed_amount for d in disputes) == [Decimal("42000"), Decimal("55000")]
    assert {d.items.get().reason for d in disputes} == {DisputeReason.DUPLICATE}
    assert all(d.attachments.count() == 1 for d in disputes)


def test_bulk_filing_writes_nothing_when_one_invoice_is_refused(world):
    paper = ShippingAccountFactory(company=world["company"], invoice_delivery=InvoiceDelivery.PAPER)
    paper_invoice = InvoiceFactory(account=paper)

    with pytest.raises(ApplicationError):
        dispute_file_bulk(
            invoices=[world["invoice"], paper_invoice],
            reason=DisputeReason.DUPLICATE,
            actor=world["users"]["administrator"],
        )

    assert not Dispute.objects.exists()


# --- Staff workflow ------------------------------------------------------------------------------


def test_transitions_follow_the_table(world, staff_user):
    dispute = _file(world, _item(world["freight"], "1000"))

    dispute_transition(dispute=dispute, to_status=DisputeStatus.UNDER_REVIEW, actor=staff_user)
    with pytest.raises(ApplicationError):
        dispute_transition(dispute=dispute, to_status=DisputeStatus.SUBMITTED, actor=staff_user)
    dispute_transition(dispute=dispute, to_status=DisputeStatus.CLOSED, actor=staff_user)
    with pytest.raises(ApplicationError):
        dispute_transition(dispute=dispute, to_status=DisputeStatus.UNDER_REVIEW, actor=staff_user)

    assert list(DisputeEvent.objects.filter(dispute=dispute).values_list("to_status", "actor__username")) == [
        ("submitted", "payer1"),
        ("under_review", "billing_staff"),
        ("closed", "billing_staff"),
    ]


def test_assigning_puts_a_submitted_dispute_under_review(world, staff_user):
    dispute = _file(world, _item(world["freight"], "1000"))

    dispute_assign(dispute=dispute, assignee=staff_user, actor=staff_user)

    dispute.refresh_from_db()
    assert dispute.assignee == staff_user
    assert dispute.status == DisputeStatus.UNDER_REVIEW
    assert AuditEvent.objects.filter(action="dispute.assigned", actor=staff_user).exists()


def test_disputes_cannot_be_assigned_to_customers(world, staff_user):
    dispute = _file(world, _item(world["freight"], "1000"))

    with pytest.raises(ApplicationError):
        dispute_assign(dispute=dispute, assignee=world["users"]["payer"], actor=staff_user)


def test_approving_in_full_posts_a_credit_line_and_lowers_the_balance(world, staff_user):
    dispute = _file(world, _item(world["freight"], "12000"), _item(world["surcharge"], "5000"))

    dispute_decide(dispute=dispute, decision=Decision.APPROVE, actor=staff_user)

    dispute.refresh_from_db()
    invoice = Invoice.objects.get(pk=world["invoice"].pk)
    assert dispute.status == DisputeStatus.APPROVED
    assert dispute.credit_granted == Decimal("17000")
    assert dispute.decided_by == staff_user
    assert dispute.credit_line.kind == LineKind.ADJUSTMENT
    assert dispute.credit_line.amount == Decimal("-17000")
    assert dispute.reference in dispute.credit_line.description
    assert invoice.total == Decimal("38000")
    assert invoice.balance == Decimal("38000")
    assert invoice.total == sum(InvoiceLine.objects.filter(invoice=invoice).values_list("amount", flat=True))
    assert list(dispute.events.values_list("to_status", flat=True)) == ["submitted", "under_review", "approved"]
    decided = AuditEvent.objects.get(action="dispute.decided")
    assert decided.actor == staff_user
    assert decided.data["credit"] == "17000"
    assert AuditEvent.objects.filter(action="invoice.adjustment_posted", actor=staff_user).exists()


def test_a_credit_on_a_paid_invoice_becomes_the_accounts_credit_balance(world, staff_user):
    Invoice.objects.filter(pk=world["invoice"].pk).update(amount_paid=Decimal("55000"))
    dispute = _file(world, _item(world["second"], "20000"))

    dispute_decide(dispute=dispute, decision=Decision.PARTIAL, amount=Decimal("8000"), actor=staff_user)

    invoice = Invoice.objects.get(pk=world["invoice"].pk)
    assert invoice.balance == Decimal("-8000")
    assert invoice.status == "credit"
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.PARTLY_APPROVED
    assert dispute.credit_granted == Decimal("8000")


@pytest.mark.parametrize("amount", [None, Decimal("0"), Decimal("20000"), Decimal("25000")])
def test_a_partial_credit_is_more_than_zero_and_less_than_the_disputed_amount(world, staff_user, amount):
    dispute = _file(world, _item(world["second"], "20000"))

    with pytest.raises(ApplicationError) as refused:
        dispute_decide(dispute=dispute, decision=Decision.PARTIAL, amount=amount, actor=staff_user)

    assert refused.value.field == "amount"
    assert Invoice.objects.get(pk=world["invoice"].pk).total == Decimal("55000")


def test_rejecting_needs_a_reason_and_grants_no_credit(world, staff_user):
    dispute = _file(world, _item(world["second"], "20000"))

    with pytest.raises(ApplicationError):
        dispute_decide(dispute=dispute, decision=Decision.REJECT, actor=staff_user)
    dispute_decide(dispute=dispute, decision=Decision.REJECT, reason="요율이 계약과 같습니다.", actor=staff_user)

    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.REJECTED
    assert dispute.credit_granted == 0
    assert dispute.credit_line is None
    assert Invoice.objects.get(pk=world["invoice"].pk).total == Decimal("55000")


def test_a_decided_dispute_cannot_be_decided_again(world, staff_user):
    dispute = _file(world, _item(world["second"], "20000"))
    dispute_decide(dispute=dispute, decision=Decision.APPROVE, actor=staff_user)

    with pytest.raises(ApplicationError):
        dispute_decide(dispute=dispute, decision=Decision.APPROVE, actor=staff_user)

    assert InvoiceLine.objects.filter(invoice=world["invoice"], kind=LineKind.ADJUSTMENT).count() == 1


def test_a_credit_above_the_threshold_needs_a_supervisor(world, staff_user, supervisor, settings):
    settings.DISPUTE_SUPERVISOR_THRESHOLD = {"KRW": 10000}
    dispute = _file(world, _item(world["freight"], "15000"))

    with pytest.raises(ApplicationError) as refused:
        dispute_decide(dispute=dispute, decision=Decision.APPROVE, actor=staff_user)
    assert refused.value.code == "needs_supervisor"
    # Within the threshold the same staff member may decide in part.
    dispute_decide(dispute=dispute, decision=Decision.PARTIAL, amount=Decimal("10000"), actor=staff_user)
    assert Invoice.objects.get(pk=world["invoice"].pk).total == Decimal("45000")

    other = _file(world, _item(world["second"], "20000"))
    dispute_decide(dispute=other, decision=Decision.APPROVE, actor=supervisor)
    assert Invoice.objects.get(pk=world["invoice"].pk).total == Decimal("25000")


def test_withdrawing_closes_an_open_dispute(world):
    dispute = _file(world, _item(world["second"], "20000"))

    dispute_withdraw(dispute=dispute, actor=world["users"]["payer"])

    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.CLOSED
    with pytest.raises(ApplicationError):
        dispute_withdraw(dispute=dispute, actor=world["users"]["payer"])


# --- E-mails --------------------------------------------------------------------------------------


def test_filing_each_status_change_and_each_staff_reply_email_the_filer(
    world, staff_user, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        dispute = _file(world, _item(world["freight"], "12000"))
    with django_capture_on_commit_callbacks(execute=True):
        dispute_assign(dispute=dispute, assignee=staff_user, actor=staff_user)
    with django_capture_on_commit_callbacks(execute=True):
        dispute_message_post(dispute=dispute, author=staff_user, body="영수증을 보내 주세요.", staff=True)
    with django_capture_on_commit_callbacks(execute=True):
        dispute_message_post(
            dispute=dispute, author=staff_user, body="INTERNAL: 고객 이력 확인", internal=True, staff=True
        )
    with django_capture_on_commit_callbacks(execute=True):
        dispute_decide(dispute=dispute, decision=Decision.APPROVE, reply="승인되었습니다.", actor=staff_user)

    assert [m.to for m in mailoutbox] == [["payer1@example.com"]] * 4
    filed, review, reply, decided = mailoutbox
    assert dispute.reference in filed.subject
    assert "undisputed balance" in filed.body or "이의" in filed.body
    assert dispute.reference in review.subject
    assert "영수증을 보내 주세요." in reply.body
    assert "₩12,000" in decided.body
    assert "승인되었습니다." in decided.body
    assert all("INTERNAL" not in m.body for m in mailoutbox)


def test_emails_are_written_in_the_filers_language(world, staff_user, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        dispute = _file(world, _item(world["freight"], "12000"), language="en")

    assert dispute.language == "en"
    assert "We received your dispute" in mailoutbox[0].body


def test_customers_cannot_write_internal_notes(world):
    dispute = _file(world, _item(world["freight"], "12000"))

    with pytest.raises(ApplicationError):
        dispute_message_post(dispute=dispute, author=world["users"]["payer"], body="x", internal=True)
