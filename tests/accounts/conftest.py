import datetime
from decimal import Decimal

import pytest
from django.utils import timezone, translation

from accounts.models import InvoiceDelivery
from tests.factories import InvoiceFactory, ShippingAccountFactory, UserFactory


@pytest.fixture(autouse=True)
def _english(settings):
    """Assertions read the English msgids, whatever the Korean catalogue says."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def unenrolled_account(db):
    """An account nobody has enrolled yet, on paper invoices."""
    return ShippingAccountFactory(
        number="7K3X9A",
        name="한빛물산 발송",
        company=None,
        invoice_delivery=InvoiceDelivery.PAPER,
        billing_contact_phone="02-3456-7890",
    )


@pytest.fixture
def recent_invoice(unenrolled_account):
    """An invoice of that account issued ten days ago."""
    return InvoiceFactory(
        number="INV-2026-0001",
        control_id="QW12ER",
        account=unenrolled_account,
        invoice_date=timezone.localdate() - datetime.timedelta(days=10),
        total=Decimal("1234000"),
    )


@pytest.fixture
def enrolling_user(db):
    return UserFactory(username="enroller", email="enroller@example.com")


def invoice_values(invoice, **overrides):
    """The POST data of the enrolment form, as printed on ``invoice``."""
    data = {
        "number": invoice.billable.number,
        "invoice_number": invoice.number,
        "invoice_date": invoice.invoice_date.isoformat(),
        "amount": f"{invoice.total:,.0f}",
        "control_id": invoice.control_id,
    }
    data.update(overrides)
    return data
