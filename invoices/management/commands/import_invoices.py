"""``manage.py import_invoices FILE``: import invoices from the portal's XML or CSV format.

The file is checked whole first: with any error nothing is imported and every error is printed
with its line number (exit status 1). The same file twice changes nothing the second time.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.jobs import job_run
from invoices.imports import ImportRefused, invoices_import


class Command(BaseCommand):
    help = "Import invoices from a Billing Centre XML invoice or invoice CSV file (all or nothing)."

    def add_arguments(self, parser):
        parser.add_argument("file", help="An .xml invoice (invoices/schema/invoice-v1.xsd) or a .csv file.")

    def handle(self, *args, file, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No such file: {file}")
        data = path.read_bytes()
        with job_run("import_invoices", trigger="command") as run:
            try:
                result = invoices_import(data=data, name=path.name, recorder=run)
            except ImportRefused as refused:
                for error in refused.errors:
                    run.error(f"{path.name} {error}")
                    self.stderr.write(f"{path.name}: {error}")
                run.count("refused")
                raise CommandError(
                    f"{path.name} was refused: {len(refused.errors)} error(s), nothing imported."
                ) from None
        for number in result.created:
            self.stdout.write(f"created {number}")
        for number in result.unchanged:
            self.stdout.write(f"unchanged {number}")
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(result.created)} created, {len(result.unchanged)} unchanged, {result.print_fees} print fee(s)."
            )
        )
