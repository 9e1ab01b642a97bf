"""``manage.py reconcile_payments``: settle processing payments by asking the gateway."""

import datetime

from django.core.management.base import BaseCommand

from payments.models import PaymentStatus
from payments.services.settlement import payment_reconcile


class Command(BaseCommand):
    help = "Ask the gateway for the real outcome of payments left processing and settle them."

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than", type=int, default=0, help="Only payments processing for at least this many seconds."
        )

    def handle(self, *args, older_than, **options):
        settled = payment_reconcile(older_than=datetime.timedelta(seconds=older_than))
        for payment in settled:
            self.stdout.write(f"{payment.reference} {payment.status}")
        still = sum(1 for p in settled if p.status == PaymentStatus.PROCESSING)
        self.stdout.write(self.style.SUCCESS(f"{len(settled) - still} settled, {still} still processing."))
