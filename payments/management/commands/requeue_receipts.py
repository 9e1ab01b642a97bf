"""``manage.py requeue_receipts``: queue again the receipts of succeeded payments that are not out yet."""

import datetime

from django.core.management.base import BaseCommand

from payments.services.receipt_delivery import RECEIPT_REQUEUE_AFTER, payment_receipts_requeue


class Command(BaseCommand):
    help = (
        "Queue again the receipt e-mails of succeeded payments that were never sent (the broker was down "
        "at the payment, or the mail server refused it). Celery beat runs this every 5 minutes; without a "
        "worker (no REDIS_URL) the receipts are sent right here."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=int,
            default=int(RECEIPT_REQUEUE_AFTER.total_seconds()),
            help="Only payments settled at least this many seconds ago (default: 300).",
        )

    def handle(self, *args, older_than, **options):
        queued = payment_receipts_requeue(older_than=datetime.timedelta(seconds=older_than))
        self.stdout.write(self.style.SUCCESS(f"{queued} receipt(s) queued."))
