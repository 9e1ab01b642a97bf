"""Disputed amounts typed as people type them (issue 16: core.forms.MoneyField)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation

from disputes.models import Dispute, DisputeReason

pytestmark = pytest.mark.django_db


def _file(client, world, amount):
    line = world["freight"]
    data = {f"line_{line.id}": "on", f"line_{line.id}_reason": DisputeReason.WEIGHT, f"line_{line.id}_amount": amount}
    return client.post(reverse("disputes:file") + f"?invoice={world['invoice'].number}", data)


@pytest.mark.parametrize("typed", ["12,000", "₩12,000", "12 000", "12,000원", "１２，０００"])
def test_a_disputed_amount_with_separators_or_the_won_sign_is_filed(client, world, typed):
    client.force_login(world["users"]["payer"])

    response = _file(client, world, typed)

    assert response.status_code == 302
    assert Dispute.objects.get().disputed_amount == Decimal("12000")


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("12,000.5", "KRW amounts have no decimals: enter whole KRW, such as ₩1,000,000."),
        ("-12,000", "Enter an amount above zero."),
        ("0", "Enter an amount above zero."),
        ("$120", "Enter an amount such as ₩1,000,000."),
    ],
)
def test_a_disputed_amount_that_is_not_one_gets_one_message_and_files_nothing(client, world, typed, message):
    client.force_login(world["users"]["payer"])

    response = _file(client, world, typed)

    assert response.status_code == 400
    errors = response.context["form"].errors
    field = f"line_{world['freight'].id}_amount"
    with translation.override("en"):
        assert [str(m) for m in errors[field]] == [message]
    assert not Dispute.objects.exists()
