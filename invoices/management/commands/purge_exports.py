"""``manage.py purge_exports``: delete export ZIPs older than BC_EXPORT_RETENTION_DAYS."""

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.jobs import job_run
from invoices.retention import export_files_purge


class Command(BaseCommand):
    help = "Delete the ZIP files of bulk exports older than BC_EXPORT_RETENTION_DAYS and mark them expired."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, help="Keep this many days instead of BC_EXPORT_RETENTION_DAYS.")

    def handle(self, *args, days=None, **options):
        with job_run("export_files_purge", trigger="command") as run:
            counts = export_files_purge(days=days, recorder=run)
        kept = settings.BC_EXPORT_RETENTION_DAYS if days is None else days
        self.stdout.write(self.style.SUCCESS(f"{counts['expired']} export file(s) older than {kept} days deleted."))
