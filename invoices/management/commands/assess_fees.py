"""``manage.py assess_fees``: print fees of paper invoices and late fees of invoices past due."""

import datetime

from django.core.management.base import BaseCommand, CommandError

from accounts.jobs import job_run
from invoices.fees import fees_assess


class Command(BaseCommand):
    help = "Add the print fee to paper invoices and the late fee to invoices past due (each once)."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="Run as if today were this date (YYYY-MM-DD).")

    def handle(self, *args, date=None, **options):
        try:
            today = datetime.date.fromisoformat(date) if date else None
        except ValueError:
            raise CommandError(f"Not a date: {date!r} (use YYYY-MM-DD).") from None
        with job_run("fees_assess", trigger="command") as run:
            counts = fees_assess(today=today, recorder=run)
        self.stdout.write(
            self.style.SUCCESS(f"{counts['print_fee']} print fee(s), {counts['late_fee']} late fee(s) added.")
        )
