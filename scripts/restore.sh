#!/usr/bin/env bash
# Restore a backup of scripts/backup.sh into the database of DATABASE_URL and the configured storage.
#
#   scripts/restore.sh BACKUP_FOLDER [--force]      (make restore BACKUP=... [ARGS=--force])
#
# 1. checks the backup's SHA256SUMS;
# 2. creates the database if it does not exist; refuses one that already has tables (or a media
#    folder / bucket that already holds files) unless --force;
# 3. pg_restore --no-owner --no-privileges --clean --if-exists --exit-on-error, then ANALYZE
#    (a restored database has no planner statistics);
# 4. the files: the tar into MEDIA_ROOT (local storage), or manage.py storage_import (S3);
# 5. manage.py backup_helper verify: row counts of invoices and payments, and every stored file's
#    SHA-256, against the backup's manifest.
# Stop the web servers, workers and beat first; afterwards run `manage.py migrate` if the code is
# newer than the backup, then start them again (docs/operations.md, "Backups and restore").
set -euo pipefail

cd "$(dirname "$0")/.."
PY="${BC_VENV:-.venv}/bin/python"
say() { printf '==> %s\n' "$*"; }
die() { printf '!!  %s\n' "$*" >&2; exit 1; }

FOLDER="${1:-}"
FORCE=0
[[ "${2:-}" == "--force" ]] && FORCE=1
[[ -n "$FOLDER" && -f "$FOLDER/manifest.json" ]] || die "usage: scripts/restore.sh BACKUP_FOLDER [--force] (a folder made by scripts/backup.sh)"
FOLDER="$(cd "$FOLDER" && pwd)"
for tool in pg_restore psql createdb tar sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is missing (Debian: apt-get install postgresql-client tar coreutils)."
done

say "Checking the backup's checksums"
(cd "$FOLDER" && sha256sum --quiet -c SHA256SUMS) || die "the backup is damaged: SHA256SUMS does not match."

exports="$("$PY" manage.py backup_helper env)" || die "could not read the settings (see above)."
eval "$exports"

exists="$(psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '${PGDATABASE//\'/\'\'}'" 2>/dev/null || true)"
if [[ "$exists" != "1" ]]; then
  say "Creating database $PGDATABASE"
  createdb "$PGDATABASE"
else
  tables="$(psql -tAc "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")"
  if ((tables > 0 && FORCE == 0)); then
    die "database $PGDATABASE already has $tables tables: restore into a new database, or pass --force to replace it."
  fi
fi

if [[ "$BC_BACKUP_FILES" == "local" ]]; then
  mkdir -p "$BC_BACKUP_MEDIA_ROOT"
  if [[ -n "$(ls -A "$BC_BACKUP_MEDIA_ROOT")" && $FORCE == 0 ]]; then
    die "$BC_BACKUP_MEDIA_ROOT is not empty: restore into an empty media folder, or pass --force."
  fi
fi
kind="$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["files"]["kind"])' "$FOLDER/manifest.json")"
if [[ "$kind" == "local" && ! -f "$FOLDER/media.tar.gz" ]]; then
  die "the backup's media.tar.gz is missing from $FOLDER."
fi

say "Restoring database $PGDATABASE from $FOLDER/database.dump"
pg_restore --no-owner --no-privileges --clean --if-exists --exit-on-error -d "$PGDATABASE" "$FOLDER/database.dump"
say "ANALYZE (planner statistics)"
psql -q -v ON_ERROR_STOP=1 -c "ANALYZE"

# The backup's files go where this installation stores them, whatever the backup came from:
# a local backup restores into S3 through the storage API, and an S3 backup into a local folder.
if [[ "$kind" == "local" && "$BC_BACKUP_FILES" == "local" ]]; then
  say "Restoring the stored files into $BC_BACKUP_MEDIA_ROOT"
  tar -C "$BC_BACKUP_MEDIA_ROOT" -xzf "$FOLDER/media.tar.gz"
else
  source_dir="$FOLDER"
  if [[ "$kind" == "local" ]]; then
    source_dir="$(mktemp -d)"
    trap 'rm -rf "$source_dir"' EXIT
    mkdir -p "$source_dir/files"
    tar -C "$source_dir/files" -xzf "$FOLDER/media.tar.gz"
    "$PY" -c 'import json, sys; m = json.load(open(sys.argv[1])); m["files_copied"] = True; json.dump(m, open(sys.argv[2], "w"))' \
      "$FOLDER/storage-manifest.json" "$source_dir/storage-manifest.json"
  fi
  say "Restoring the stored files through the storage API"
  force=()
  ((FORCE)) && force=(--force)
  "$PY" manage.py storage_import "$source_dir" "${force[@]}"
fi

say "Verifying"
"$PY" manage.py backup_helper verify "$FOLDER"
say "Restore complete. Run manage.py migrate if the code is newer than the backup, then start the site."
