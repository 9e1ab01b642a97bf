"""A mail server outage never turns a committed dispute write into an error page: the filer's
e-mail waits in the outbox (core.mail) and the sweep sends it later."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import AuditEvent
from core.models import OutgoingEmail
from disputes.models import Dispute, DisputeReason, DisputeStatus
from disputes.services import Decision, dispute_decide

pytestmark = pytest.mark.django_db


def test_filing_answers_and_the_dispute_is_saved_while_the_mail_server_is_down(
    login, world, smtp_down, django_capture_on_commit_callbacks
):
    client = login(world["users"]["payer"])
    line = world["freight"]

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("disputes:file") + f"?invoice={world['invoice'].number}",
            {
                f"line_{line.id}": "on",
                f"line_{line.id}_reason": DisputeReason.WEIGHT,
                f"line_{line.id}_amount": "12000",
            },
        )

    dispute = Dispute.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("disputes:detail", args=[dispute.reference]) + "?filed=1"
    assert AuditEvent.objects.filter(action="dispute.filed").exists()
    assert mail.outbox == []
    [waiting] = OutgoingEmail.objects.all()
    assert waiting.to == ["payer1@example.com"]
    assert dispute.reference in waiting.subject
    assert waiting.sent_at is None


def test_a_decision_is_committed_while_the_mail_server_is_down(
    world, staff_user, smtp_down, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        dispute = Dispute.objects.create(
            reference="D2603TEST001",
            company=world["company"],
            invoice=world["invoice"],
            filed_by=world["users"]["payer"],
            disputed_amount=12000,
            status=DisputeStatus.UNDER_REVIEW,
        )
        dispute_decide(dispute=dispute, decision=Decision.REJECT, reason="무게가 맞습니다.", actor=staff_user)

    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.REJECTED
    assert OutgoingEmail.objects.filter(sent_at__isnull=True).count() == 1
