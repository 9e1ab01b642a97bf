"""Invoices' e-mails go through the outbox (core.mail): written with the change, sent after it,
and a mail server that is down never undoes or fails the change."""

from __future__ import annotations

import pytest
from django.core import mail

from core.models import OutgoingEmail
from invoices.imports.notices import new_invoice_notices_queue
from invoices.models import ExportJob
from invoices.services import export_job_run
from tests.accounts.factories import MembershipFactory
from tests.invoices.factories import InvoiceFactory

pytestmark = pytest.mark.django_db


def _job(world, **fields) -> ExportJob:
    invoices = [InvoiceFactory(account=world.account_a) for _ in range(2)]
    return ExportJob.objects.create(
        owner=world.admin,
        format="csv",
        language="en",
        invoice_ids=[invoice.id for invoice in invoices],
        total=len(invoices),
        download_url="http://testserver/invoices/exports/x/",
        **fields,
    )


def test_the_ready_e_mail_is_an_outbox_row_sent_once(world):
    job = _job(world)

    assert export_job_run(job_id=job.pk).status == ExportJob.Status.READY

    email = OutgoingEmail.objects.get()
    assert email.to == [world.admin.email] and email.sent_at is not None
    assert email.subject == "Your invoice download is ready" and job.download_url in email.body
    assert len(mail.outbox) == 1 and mail.outbox[0].subject == email.subject


def test_a_mail_server_outage_leaves_the_job_ready_and_its_e_mail_unsent_in_the_outbox(world, smtp_down):
    job = _job(world)

    assert export_job_run(job_id=job.pk).status == ExportJob.Status.READY

    email = OutgoingEmail.objects.get()
    assert email.sent_at is None and email.attempts == 1 and "451" in email.last_error
    assert mail.outbox == []


def test_new_invoice_notices_are_queued_in_the_outbox_and_sent_after_the_commit(
    world, django_capture_on_commit_callbacks
):
    wants = MembershipFactory(company=world.company, accounts=[world.account_b], role="viewer").user
    invoice = InvoiceFactory(account=world.account_b)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        queued = new_invoice_notices_queue(invoice_ids=[invoice.id])

    recipients = sorted(address for email in OutgoingEmail.objects.all() for address in email.to)
    assert queued == 2 and recipients == sorted([world.admin.email, wants.email])
    assert mail.outbox == [] and len(callbacks) == 2  # nothing sent before the commit
    for callback in callbacks:
        callback()
    assert sorted(address for message in mail.outbox for address in message.to) == recipients
    assert all(f"/invoices/{invoice.number}/" in message.body for message in mail.outbox)
