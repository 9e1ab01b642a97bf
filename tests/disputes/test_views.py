"""Filing and following disputes through the web pages, across roles and companies."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import InvoiceDelivery
from disputes.models import Dispute, DisputeMessage, DisputeReason, DisputeStatus
from disputes.services import MAX_ATTACHMENT_BYTES, Decision, DisputeItemInput, dispute_decide, dispute_file
from invoices.models import Invoice
from tests.accounts.factories import ShippingAccountFactory
from tests.invoices.factories import InvoiceFactory, InvoiceLineFactory

from .conftest import PDF, PNG

pytestmark = pytest.mark.django_db

FILE_URL = reverse("disputes:file")


def _url(*numbers):
    return FILE_URL + "?" + "&".join(f"invoice={n}" for n in numbers)


def _post_line(client, world, line, amount, reason=DisputeReason.WEIGHT, **extra):
    data = {f"line_{line.id}": "on", f"line_{line.id}_reason": reason, f"line_{line.id}_amount": amount, **extra}
    return client.post(_url(world["invoice"].number), data)


def _filed(world, line_key="freight", amount="12000", user="payer", **kwargs):
    return dispute_file(
        invoice=world["invoice"],
        items=[DisputeItemInput(line_id=world[line_key].id, reason=DisputeReason.WEIGHT, amount=Decimal(amount))],
        actor=world["users"][user],
        **kwargs,
    )


# --- Filing page ------------------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["administrator", "manager", "payer"])
def test_filing_form_lists_the_invoice_charges(login, world, user):
    client = login(world["users"][user])

    response = client.get(_url("INV000000101"))

    assert response.status_code == 200
    assert "운송 요금" in response.content.decode()
    assert "1Z0000000000000101" in response.content.decode()
    assert len(response.context["form"].line_rows) == 3


def test_viewer_may_not_file_a_dispute(login, world):
    client = login(world["users"]["viewer"])

    assert client.get(_url("INV000000101")).status_code == 403
    assert _post_line(client, world, world["freight"], "1000").status_code == 403
    assert not Dispute.objects.exists()


@pytest.mark.parametrize("user", ["outsider", "unassigned"])
def test_an_invoice_outside_the_users_scope_answers_404(login, world, user):
    client = login(world["users"][user])

    assert client.get(_url("INV000000101")).status_code == 404
    assert _post_line(client, world, world["freight"], "1000").status_code == 404
    assert not Dispute.objects.exists()


def test_an_unknown_invoice_answers_404(login, world):
    assert login(world["users"]["payer"]).get(_url("NOPE")).status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client, world):
    response = client.get(_url("INV000000101"))

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_filing_redirects_to_the_dispute_which_says_the_undisputed_balance_is_due(login, world):
    client = login(world["users"]["payer"])

    response = _post_line(client, world, world["freight"], "12000", comment="실제 무게는 2kg입니다.")

    dispute = Dispute.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("disputes:detail", args=[dispute.reference]) + "?filed=1"
    page = client.get(response["Location"]).content.decode()
    assert dispute.reference in page
    assert "₩43,000" in page  # 55,000 balance - 12,000 disputed
    assert "실제 무게는 2kg입니다." in page


def test_the_invoice_is_marked_disputed_and_can_still_be_paid(login, world):
    client = login(world["users"]["payer"])
    _post_line(client, world, world["freight"], "12000")

    invoice = client.get(reverse("invoices:detail", args=["INV000000101"]))
    table = client.get(reverse("invoices:account_list"))

    assert invoice.status_code == 200
    assert invoice.context["invoice"].disputed is True
    assert Invoice.objects.get(number="INV000000101").status == "open"
    assert "badge-disputed" in table.content.decode()


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("30001", "cannot be more than the charge"),
        ("0", "Enter an amount above zero"),  # the field says it (core.forms.MoneyField)
        ("", "Enter the disputed amount"),
        ("abc", ""),
    ],
)
def test_a_bad_amount_is_shown_next_to_its_field_and_nothing_is_filed(login, world, amount, message):
    client = login(world["users"]["payer"])
    client.cookies["django_language"] = "en"

    response = _post_line(client, world, world["freight"], amount)

    field = f"line_{world['freight'].id}_amount"
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert message in " ".join(response.context["form"].errors[field])
    assert not Dispute.objects.exists()


def test_a_reason_is_required_for_each_selected_charge(login, world):
    client = login(world["users"]["payer"])

    response = _post_line(client, world, world["freight"], "1000", reason="")

    assert response.status_code == 400
    assert f"line_{world['freight'].id}_reason" in response.context["form"].errors


def test_no_charge_selected_is_refused(login, world):
    client = login(world["users"]["payer"])
    client.cookies["django_language"] = "en"

    response = client.post(_url("INV000000101"), {"comment": "?"})

    assert response.status_code == 400
    assert "Select at least one charge" in " ".join(response.context["form"].non_field_errors())
    assert not Dispute.objects.exists()


def test_a_line_of_another_invoice_cannot_be_smuggled_into_the_form(login, world):
    other_line = InvoiceLineFactory(invoice=InvoiceFactory(account=world["account"]), amount=Decimal("9000"))
    client = login(world["users"]["payer"])

    response = client.post(
        _url("INV000000101"),
        {
            f"line_{other_line.id}": "on",
            f"line_{other_line.id}_reason": "weight",
            f"line_{other_line.id}_amount": "100",
        },
    )

    assert response.status_code == 400
    assert not Dispute.objects.exists()


def test_the_whole_invoice_can_be_disputed(login, world):
    client = login(world["users"]["payer"])

    response = client.post(_url("INV000000101"), {"whole": "on", "whole_reason": "not_mine", "whole_amount": "55000"})

    assert response.status_code == 302
    item = Dispute.objects.get().items.get()
    assert item.line is None
    assert item.amount == Decimal("55000")


def test_a_disguised_attachment_is_refused_next_to_the_field(login, world):
    client = login(world["users"]["payer"])
    upload = SimpleUploadedFile("receipt.png", b"<script>alert(1)</script>", content_type="image/png")

    response = _post_line(client, world, world["freight"], "1000", attachments=[upload])

    assert response.status_code == 400
    assert "attachments" in response.context["form"].errors
    assert not Dispute.objects.exists()


def test_an_oversized_attachment_is_refused_next_to_the_field(login, world):
    client = login(world["users"]["payer"])
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"  # the assertion reads the English msgid; Korean is the default
    upload = SimpleUploadedFile("scan.pdf", PDF + b"0" * MAX_ATTACHMENT_BYTES, content_type="application/pdf")

    response = _post_line(client, world, world["freight"], "1000", attachments=[upload])

    assert response.status_code == 400
    assert "5 MB" in " ".join(response.context["form"].errors["attachments"])
    assert not Dispute.objects.exists()


def test_several_attachments_are_accepted(login, world):
    client = login(world["users"]["payer"])
    files = [
        SimpleUploadedFile("a.pdf", PDF, content_type="application/pdf"),
        SimpleUploadedFile("b.png", PNG, content_type="image/png"),
    ]

    response = _post_line(client, world, world["freight"], "1000", attachments=files)

    assert response.status_code == 302
    assert sorted(Dispute.objects.get().attachments.values_list("content_type", flat=True)) == [
        "application/pdf",
        "image/png",
    ]


def test_a_paper_invoice_shows_the_billing_contact_instead_of_the_form(login, world):
    world["account"].invoice_delivery = InvoiceDelivery.PAPER
    world["account"].billing_contact_phone = "02-9999-0000"
    world["account"].save()
    client = login(world["users"]["payer"])

    response = client.get(_url("INV000000101"))

    assert response.status_code == 200
    assert "form" not in response.context
    assert "02-9999-0000" in response.content.decode()
    assert _post_line(client, world, world["freight"], "1000").status_code == 200
    assert not Dispute.objects.exists()


def test_a_temporary_account_number_shows_the_billing_contact(login, world):
    temporary = ShippingAccountFactory(company=world["company"], number="1234567890", billing_contact_phone="1588-0000")
    InvoiceFactory(account=temporary, number="INVTEMP0001")
    client = login(world["users"]["administrator"])

    response = client.get(_url("INVTEMP0001"))

    assert response.status_code == 200
    assert "1588-0000" in response.content.decode()
    assert "form" not in response.context


def test_bulk_disputes_several_invoices_for_one_reason(login, world):
    InvoiceFactory(account=world["account"], number="INV000000102", total=Decimal("42000"))
    client = login(world["users"]["payer"])

    page = client.get(_url("INV000000101", "INV000000102"))
    response = client.post(_url("INV000000101", "INV000000102"), {"reason": "duplicate", "comment": "중복"})

    assert page.status_code == 200
    assert len(page.context["invoices"]) == 2
    assert response.status_code == 302
    assert sorted(Dispute.objects.values_list("invoice__number", "disputed_amount")) == [
        ("INV000000101", Decimal("55000")),
        ("INV000000102", Decimal("42000")),
    ]


def test_bulk_needs_a_reason(login, world):
    InvoiceFactory(account=world["account"], number="INV000000102")
    client = login(world["users"]["payer"])

    response = client.post(_url("INV000000101", "INV000000102"), {"reason": ""})

    assert response.status_code == 400
    assert "reason" in response.context["form"].errors
    assert not Dispute.objects.exists()


def test_bulk_with_a_foreign_invoice_answers_404(login, world):
    InvoiceFactory(number="INVFOREIGN01")
    client = login(world["users"]["payer"])

    assert client.post(_url("INV000000101", "INVFOREIGN01"), {"reason": "duplicate"}).status_code == 404
    assert not Dispute.objects.exists()


# --- Following ------------------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["administrator", "manager", "payer", "viewer"])
def test_disputes_are_listed_to_everyone_who_sees_the_invoice(login, world, user):
    dispute = _filed(world)

    response = login(world["users"][user]).get(reverse("disputes:list"))

    assert response.status_code == 200
    assert dispute.reference in response.content.decode()


@pytest.mark.parametrize("user", ["outsider", "unassigned"])
def test_disputes_of_invoices_out_of_scope_are_invisible(login, world, user):
    dispute = _filed(world)
    client = login(world["users"][user])

    assert dispute.reference not in client.get(reverse("disputes:list")).content.decode()
    assert client.get(reverse("disputes:detail", args=[dispute.reference])).status_code == 404


def test_the_list_issues_a_constant_number_of_queries(login, world, django_assert_max_num_queries):
    client = login(world["users"]["administrator"])
    _filed(world, "freight")
    client.get(reverse("disputes:list"))  # warm caches (sessions, content types)
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("disputes:list"))
    _filed(world, "second")
    _filed(world, "surcharge", amount="100")
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("disputes:list"))
    assert len(response.context["rows"]) == 3


def test_the_list_filters_by_status_and_search(login, world, staff_user):
    first = _filed(world, "freight")
    second = _filed(world, "second")
    dispute_decide(dispute=first, decision=Decision.APPROVE, actor=staff_user)
    client = login(world["users"]["payer"])

    approved = client.get(reverse("disputes:list"), {"status": "approved"}).context["rows"]
    open_ = client.get(reverse("disputes:list"), {"status": "open"}).context["rows"]
    searched = client.get(reverse("disputes:list"), {"q": second.reference}).context["rows"]

    assert [r["dispute"] for r in approved] == [first]
    assert [r["dispute"] for r in open_] == [second]
    assert [r["dispute"] for r in searched] == [second]


def test_the_list_for_one_invoice_offers_to_dispute_it(login, world):
    response = login(world["users"]["payer"]).get(reverse("disputes:list"), {"invoice": "INV000000101"})

    assert response.status_code == 200
    assert _url("INV000000101") in response.content.decode()


def test_the_detail_shows_timeline_messages_credit_but_never_internal_notes(login, world, staff_user):
    from disputes.services import dispute_message_post

    dispute = _filed(world)
    dispute_message_post(dispute=dispute, author=staff_user, body="고객님, 확인 중입니다.", staff=True)
    dispute_message_post(dispute=dispute, author=staff_user, body="SECRET-NOTE 사기 의심", internal=True, staff=True)
    dispute_decide(dispute=dispute, decision=Decision.PARTIAL, amount=Decimal("5000"), actor=staff_user)

    for user in ("payer", "viewer", "administrator"):
        page = login(world["users"][user]).get(reverse("disputes:detail", args=[dispute.reference]))
        html = page.content.decode()
        assert page.status_code == 200
        assert "고객님, 확인 중입니다." in html
        assert "SECRET-NOTE" not in html
        assert "₩5,000" in html
        assert [s["done"] for s in page.context["timeline"]] == [True, True, True, False]
    assert DisputeMessage.objects.filter(internal=True).count() == 1


def test_customers_post_messages_but_viewers_may_not(login, world):
    dispute = _filed(world)
    url = reverse("disputes:message", args=[dispute.reference])

    assert login(world["users"]["payer"]).post(url, {"body": "사진을 첨부했습니다."}).status_code == 302
    assert login(world["users"]["viewer"]).post(url, {"body": "x"}).status_code == 403
    assert login(world["users"]["outsider"]).post(url, {"body": "x"}).status_code == 404
    assert list(dispute.messages.values_list("body", flat=True)) == ["사진을 첨부했습니다."]


def test_an_empty_message_is_refused_next_to_the_field(login, world):
    dispute = _filed(world)

    response = login(world["users"]["payer"]).post(reverse("disputes:message", args=[dispute.reference]), {"body": " "})

    assert response.status_code == 400
    assert "body" in response.context["message_form"].errors


def test_a_payer_withdraws_an_open_dispute(login, world):
    dispute = _filed(world)

    response = login(world["users"]["payer"]).post(reverse("disputes:withdraw", args=[dispute.reference]))

    assert response.status_code == 302
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.CLOSED


def test_viewers_cannot_withdraw(login, world):
    dispute = _filed(world)

    assert (
        login(world["users"]["viewer"]).post(reverse("disputes:withdraw", args=[dispute.reference])).status_code == 403
    )
    status = dispute.status
    dispute.refresh_from_db()
    assert dispute.status == status  # still open, not withdrawn


# --- Attachments ----------------------------------------------------------------------------------


def _with_attachment(world):
    upload = SimpleUploadedFile("증빙 자료.pdf", PDF, content_type="application/pdf")
    dispute = _filed(world, attachments=[upload])
    return dispute, dispute.attachments.get()


@pytest.mark.parametrize("user", ["administrator", "manager", "payer", "viewer"])
def test_attachments_download_to_those_who_see_the_dispute(login, world, user):
    dispute, attachment = _with_attachment(world)

    response = login(world["users"][user]).get(reverse("disputes:attachment", args=[dispute.reference, attachment.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == PDF


@pytest.mark.parametrize("user", ["outsider", "unassigned"])
def test_attachments_are_hidden_outside_the_scope(login, world, user):
    dispute, attachment = _with_attachment(world)

    response = login(world["users"][user]).get(reverse("disputes:attachment", args=[dispute.reference, attachment.pk]))

    assert response.status_code == 404


def test_attachments_need_a_login_and_the_matching_dispute(client, login, world):
    dispute, attachment = _with_attachment(world)
    other = _filed(world, "second")

    assert client.get(reverse("disputes:attachment", args=[dispute.reference, attachment.pk])).status_code == 404
    payer = login(world["users"]["payer"])
    assert payer.get(reverse("disputes:attachment", args=[other.reference, attachment.pk])).status_code == 404


def test_billing_staff_download_attachments(login, world, staff_user):
    dispute, attachment = _with_attachment(world)

    response = login(staff_user).get(reverse("disputes:attachment", args=[dispute.reference, attachment.pk]))

    assert response.status_code == 200


def test_media_root_is_not_served(client, world, settings):
    _dispute, attachment = _with_attachment(world)

    assert client.get("/media/" + attachment.file).status_code == 404


@pytest.mark.parametrize("language", ["ko", "en"])
def test_dispute_pages_render_in_both_languages(login, world, language):
    dispute = _filed(world)
    client = login(world["users"]["payer"])
    client.cookies["django_language"] = language

    for url in (reverse("disputes:list"), reverse("disputes:detail", args=[dispute.reference]), _url("INV000000101")):
        response = client.get(url)
        assert response.status_code == 200
        assert f'<html lang="{language}"' in response.content.decode()
