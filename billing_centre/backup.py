"""Backups of the database and the stored files (scripts/backup.sh, scripts/restore.sh).

The shell scripts run the tools (``pg_dump``, ``pg_restore``, ``tar``); this module gives them what
only Django knows: the database's connection parameters (from ``DATABASE_URL`` or ``.env``), which
storage holds the files, and the row counts a restore is checked against.

The dump and the counts come from one exported snapshot (``pg_export_snapshot`` in a repeatable
read transaction, ``pg_dump --snapshot``), so the counts are those of the dump even while the site
keeps writing. Invoices and payments are what a restore must bring back; the counts name them.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shlex
import subprocess
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import connection, transaction

MANIFEST = "manifest.json"
DUMP = "database.dump"


class BackupError(Exception):
    pass


def counted_models():
    """The tables whose row counts a restore is checked against (label → model)."""
    from invoices.models import Invoice, InvoiceDocument
    from payments.models import Payment, PaymentAllocation

    return {
        "invoices.Invoice": Invoice,
        "invoices.InvoiceDocument": InvoiceDocument,
        "payments.Payment": Payment,
        "payments.PaymentAllocation": PaymentAllocation,
    }


def libpq_environment() -> dict[str, str]:
    """PG* variables for pg_dump / pg_restore / psql from ``DATABASES["default"]``."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        raise BackupError("backups need PostgreSQL: set DATABASE_URL=postgres://... (the SQLite default has none)")
    values = {
        "PGDATABASE": db.get("NAME") or "",
        "PGHOST": db.get("HOST") or "",
        "PGPORT": str(db.get("PORT") or ""),
        "PGUSER": db.get("USER") or "",
        "PGPASSWORD": db.get("PASSWORD") or "",
        "PGSSLMODE": str(db.get("OPTIONS", {}).get("sslmode") or ""),
    }
    return {name: value for name, value in values.items() if value}


def storage_kind() -> tuple[str, str]:
    """("local", its folder) for a FileSystemStorage, ("storage", "") for any other (S3)."""
    if isinstance(default_storage, FileSystemStorage):
        return "local", str(default_storage.location)
    return "storage", ""


def shell_exports() -> str:
    """``export NAME=value`` lines for the scripts (``eval``)."""
    kind, media_root = storage_kind()
    values = {**libpq_environment(), "BC_BACKUP_FILES": kind, "BC_BACKUP_MEDIA_ROOT": media_root}
    return "\n".join(f"export {name}={shlex.quote(value)}" for name, value in values.items())


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def row_counts() -> dict[str, int]:
    return {label: model._default_manager.count() for label, model in counted_models().items()}


def database_dump(folder: Path) -> dict:
    """``pg_dump -Fc`` into ``folder/database.dump`` with the row counts of the same snapshot."""
    path = folder / DUMP
    env = {**os.environ, **libpq_environment()}
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SELECT pg_export_snapshot(), current_setting('server_version')")
            snapshot, server_version = cursor.fetchone()
        counts = row_counts()
        # The snapshot stays valid while this transaction is open: pg_dump sees exactly these rows.
        result = subprocess.run(
            ["pg_dump", "--format=custom", f"--snapshot={snapshot}", f"--file={path}"],
            env=env,
            capture_output=True,
            text=True,
        )
    if result.returncode != 0:
        raise BackupError(f"pg_dump failed: {result.stderr.strip()}")
    return {
        "file": DUMP,
        "name": settings.DATABASES["default"]["NAME"],
        "server_version": server_version,
        "bytes": path.stat().st_size,
        "sha256": sha256_of(path),
        "counts": counts,
    }


def manifest_write(folder: Path, *, database: dict, files: dict) -> dict:
    from core.storage_copy import storage_manifest

    stored = storage_manifest(folder)
    manifest = {
        "format": 1,
        "created_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "database": database,
        "files": {**files, "count": stored["count"], "bytes": stored["bytes"], "backend": stored["backend"]},
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False))
    return manifest


def backup_verify(folder: Path) -> list[str]:
    """After a restore: the database's counts and every stored file against the backup's manifest."""
    from core.storage_copy import storage_verify

    manifest = json.loads((folder / MANIFEST).read_text())
    problems = []
    counts = row_counts()
    for label, expected in manifest["database"]["counts"].items():
        if counts.get(label) != expected:
            problems.append(f"{label}: {counts.get(label)} rows, the backup has {expected}")
    problems.extend(storage_verify(folder))
    return problems
