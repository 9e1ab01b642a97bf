"""factory_boy factories for disputes' models."""

from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from disputes.models import Dispute, DisputeStatus
from tests.accounts.factories import UserFactory
from tests.invoices.factories import InvoiceFactory


class DisputeFactory(DjangoModelFactory):
    """A dispute filed on an invoice, as the filer's company; ``status`` defaults to submitted."""

    class Meta:
        model = Dispute

    reference = factory.Sequence(lambda n: f"DSP{n:09d}")
    invoice = factory.SubFactory(InvoiceFactory)
    company = factory.LazyAttribute(lambda d: (d.invoice.account or d.invoice.plan).company)
    filed_by = factory.SubFactory(UserFactory)
    status = DisputeStatus.SUBMITTED
