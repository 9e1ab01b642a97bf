"""Payments that succeeded before ``receipt_sent_at`` existed had their receipt sent then (or lost
with no way to tell): mark them, so the receipt sweep never e-mails old receipts after this release."""

from django.db import migrations
from django.db.models import F


def mark_sent(apps, schema_editor):
    Payment = apps.get_model("payments", "Payment")
    Payment.objects.filter(status="succeeded", receipt_sent_at__isnull=True).update(receipt_sent_at=F("settled_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0007_receipt_marker_and_attempt_claims"),
    ]

    operations = [migrations.RunPython(mark_sent, migrations.RunPython.noop)]
