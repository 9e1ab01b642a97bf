"""``manage.py send_expiry_reminders``: e-mail payers whose AutoPay card expires within 30 days."""

import datetime

from django.core.management.base import BaseCommand, CommandError

from accounts.jobs import job_run
from payments.autopay.notices import card_expiry_reminders_send


class Command(BaseCommand):
    help = "E-mail the payers once when a card used by AutoPay expires within 30 days."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="Run as if today were this date (YYYY-MM-DD).")

    def handle(self, *args, date=None, **options):
        try:
            today = datetime.date.fromisoformat(date) if date else None
        except ValueError:
            raise CommandError(f"Not a date: {date!r} (use YYYY-MM-DD).") from None
        with job_run("card_expiry_reminders", trigger="command") as run:
            sent = card_expiry_reminders_send(today=today, recorder=run)
        self.stdout.write(self.style.SUCCESS(f"{sent} card expiry reminder(s) sent."))
