"""``manage.py storage_export DIR``: every stored file, through the storage API, into DIR (backups)."""

from pathlib import Path

from django.core.management.base import BaseCommand

from core.storage_copy import storage_export


class Command(BaseCommand):
    help = "Copy every file of the default storage (local folder or S3) into DIR/files with a manifest."

    def add_arguments(self, parser):
        parser.add_argument("directory", type=Path)
        parser.add_argument(
            "--manifest-only",
            action="store_true",
            help="Write DIR/storage-manifest.json (names, sizes, SHA-256) without copying the files.",
        )

    def handle(self, *args, directory: Path, manifest_only: bool, **options):
        manifest = storage_export(directory, manifest_only=manifest_only)
        verb = "Listed" if manifest_only else "Exported"
        self.stdout.write(f"{verb} {manifest['count']} files ({manifest['bytes']} bytes) from {manifest['backend']}.")
