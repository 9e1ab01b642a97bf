"""``manage.py backup_helper``: the Django half of scripts/backup.sh and scripts/restore.sh.

    backup_helper env            export lines: PG* connection variables, which storage holds the files
    backup_helper dump DIR       pg_dump -Fc of one snapshot into DIR, with that snapshot's row counts
    backup_helper manifest DIR   DIR/manifest.json from the dump and the files' manifest
    backup_helper verify DIR     after a restore: counts and every file's SHA-256 against DIR

Operators run the scripts (``make backup``, ``make restore``), not this.
"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from billing_centre import backup


class Command(BaseCommand):
    help = "Helpers of scripts/backup.sh and scripts/restore.sh (env, dump, manifest, verify)."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["env", "dump", "manifest", "verify"])
        parser.add_argument("directory", type=Path, nargs="?")
        parser.add_argument("--files-kind", default="", help="manifest: local (a tar) or storage (files/)")
        parser.add_argument("--files-archive", default="", help="manifest: the tar of the local folder")

    def handle(self, *args, action: str, directory: Path | None, files_kind: str, files_archive: str, **options):
        try:
            if action == "env":
                self.stdout.write(backup.shell_exports())
                return
            if directory is None:
                raise CommandError(f"{action} needs the backup folder")
            if action == "dump":
                database = backup.database_dump(directory)
                (directory / "database.json").write_text(json.dumps(database, indent=1))
                self.stdout.write(f"Database dumped: {database['bytes']} bytes, {database['counts']}")
            elif action == "manifest":
                database = json.loads((directory / "database.json").read_text())
                files = {"kind": files_kind}
                if files_archive:
                    files.update(archive=files_archive, sha256=backup.sha256_of(directory / files_archive))
                manifest = backup.manifest_write(directory, database=database, files=files)
                (directory / "database.json").unlink()
                self.stdout.write(f"Manifest written: {manifest['files']['count']} files.")
            else:
                problems = backup.backup_verify(directory)
                if problems:
                    raise CommandError("The restore differs from the backup:\n" + "\n".join(problems))
                self.stdout.write("Restore verified: row counts and every stored file match the backup.")
        except backup.BackupError as error:
            raise CommandError(str(error)) from error
