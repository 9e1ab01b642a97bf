"""The outbox (core.mail): an e-mail goes with its transaction and is never lost to a mail outage."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from core.mail import email_deliver, email_queue, emails_requeue
from core.models import OutgoingEmail

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_email_is_sent_once_after_the_commit_with_its_attachment():
    with transaction.atomic():
        email = email_queue(
            to=["b@example.com", "a@example.com", "a@example.com", ""],
            subject="Receipt",
            body="Thank you.",
            attachments=[("receipt.pdf", b"%PDF-1.7 bytes", "application/pdf")],
        )
        assert mail.outbox == []  # nothing leaves before the commit

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["a@example.com", "b@example.com"]
    assert message.attachments == [("receipt.pdf", b"%PDF-1.7 bytes", "application/pdf")]
    email.refresh_from_db()
    assert email.sent_at is not None and email.attempts == 1
    assert email_deliver(email.pk) is False  # a second task for the same row sends nothing
    assert len(mail.outbox) == 1


def test_a_rolled_back_write_sends_nothing_and_leaves_no_row():
    with pytest.raises(RuntimeError), transaction.atomic():
        email_queue(to="a@example.com", subject="Invitation", body="Join us.")
        raise RuntimeError("the change failed")

    assert mail.outbox == []
    assert not OutgoingEmail.objects.exists()


def test_no_recipient_queues_nothing():
    assert email_queue(to=["", "  "], subject="x", body="y") is None
    assert not OutgoingEmail.objects.exists()


def test_a_mail_outage_keeps_the_write_and_the_sweep_sends_it_once_the_server_is_back(smtp_down):
    with transaction.atomic():
        email = email_queue(to="a@example.com", subject="Dispute update", body="Under review.")
    # The commit did not raise although the send failed; the row says why it is still waiting.
    email.refresh_from_db()
    assert email.sent_at is None and email.attempts == 1 and "451" in email.last_error
    assert mail.outbox == []

    assert emails_requeue() == 0  # too young for the sweep: its own task is still retrying
    OutgoingEmail.objects.filter(pk=email.pk).update(created_at=timezone.now() - datetime.timedelta(minutes=10))
    smtp_down["down"] = False
    assert emails_requeue() == 1

    assert [m.subject for m in mail.outbox] == ["Dispute update"]
    email.refresh_from_db()
    assert email.sent_at is not None and email.attempts == 2 and email.last_error == ""
    assert emails_requeue() == 0  # sent: never again
