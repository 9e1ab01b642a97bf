"""``manage.py storage_import DIR``: the files of a ``storage_export`` back into the default storage."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.storage_copy import StorageCopyError, storage_import, storage_verify


class Command(BaseCommand):
    help = "Store every file of DIR/files (a storage_export) in the default storage, then verify each one."

    def add_arguments(self, parser):
        parser.add_argument("directory", type=Path)
        parser.add_argument("--force", action="store_true", help="Import even if the storage already holds files.")

    def handle(self, *args, directory: Path, force: bool, **options):
        try:
            count = storage_import(directory, force=force)
        except StorageCopyError as error:
            raise CommandError(str(error)) from error
        problems = storage_verify(directory)
        if problems:
            raise CommandError("Stored files differ from the backup:\n" + "\n".join(problems))
        self.stdout.write(f"Imported and verified {count} files.")
