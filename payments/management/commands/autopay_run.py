"""``manage.py autopay_run``: the daily AutoPay run (and scheduled one-time payments), without a worker."""

import datetime

from django.core.management.base import BaseCommand, CommandError

from accounts.jobs import job_run
from payments.autopay.run import autopay_run


class Command(BaseCommand):
    help = "Pay the invoices AutoPay schedules owe today, and carry out scheduled one-time payments."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="Run as if today were this date (YYYY-MM-DD); for tests and catch-up.")

    def handle(self, *args, date=None, **options):
        try:
            today = datetime.date.fromisoformat(date) if date else None
        except ValueError:
            raise CommandError(f"Not a date: {date!r} (use YYYY-MM-DD).") from None
        with job_run("autopay_run", trigger="command") as run:
            counts = autopay_run(today=today, recorder=run)
        summary = ", ".join(f"{key} {value}" for key, value in sorted(counts.items())) or "nothing to do"
        self.stdout.write(self.style.SUCCESS(f"AutoPay run: {summary}."))
