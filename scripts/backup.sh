#!/usr/bin/env bash
# Back up Billing Centre: the PostgreSQL database and every stored file, into one timestamped folder.
#
#   scripts/backup.sh [DEST]        (make backup; DEST defaults to $BC_BACKUP_DIR or var/backups)
#
# DEST/billing-centre-YYYYMMDDTHHMMSSZ/ then holds
#   database.dump          pg_dump --format=custom of DATABASE_URL (one snapshot)
#   media.tar.gz           the local media folder (MEDIA_ROOT), when files are stored locally, or
#   files/                 every object copied through Django's storage API (S3: BC_STORAGE=s3)
#   storage-manifest.json  every stored file: name, size, SHA-256
#   manifest.json          when, the dump's size/SHA-256/server version, row counts of invoices
#                          and payments in the same snapshot, the files' kind/count/bytes
#   SHA256SUMS             sha256sum -c of the files above
# Restore with scripts/restore.sh (docs/operations.md, "Backups and restore"). The folder holds
# customer data: keep it encrypted, off the host, and as private as the database.
set -euo pipefail

cd "$(dirname "$0")/.."
PY="${BC_VENV:-.venv}/bin/python"
say() { printf '==> %s\n' "$*"; }
die() { printf '!!  %s\n' "$*" >&2; exit 1; }

for tool in pg_dump tar sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is missing (Debian: apt-get install postgresql-client tar coreutils)."
done
[[ -x "$PY" ]] || die "$PY is missing: run make setup first."

DEST="${1:-${BC_BACKUP_DIR:-var/backups}}"
# Connection (PG*) and storage (BC_BACKUP_FILES, BC_BACKUP_MEDIA_ROOT) as Django sees them.
exports="$("$PY" manage.py backup_helper env)" || die "could not read the settings (see above)."
eval "$exports"

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
FOLDER="$DEST/billing-centre-$STAMP"
[[ -e "$FOLDER" ]] && die "$FOLDER exists already."
mkdir -p "$FOLDER"
chmod 700 "$FOLDER"
trap 'rc=$?; if ((rc != 0)); then printf "!!  backup failed; removing %s\n" "$FOLDER" >&2; rm -rf "$FOLDER"; fi' EXIT

say "Database $PGDATABASE → $FOLDER/database.dump"
"$PY" manage.py backup_helper dump "$FOLDER"

archive=()
case "$BC_BACKUP_FILES" in
  local)
    say "Stored files: tar of $BC_BACKUP_MEDIA_ROOT"
    "$PY" manage.py storage_export "$FOLDER" --manifest-only
    if [[ -d "$BC_BACKUP_MEDIA_ROOT" ]]; then
      tar -C "$BC_BACKUP_MEDIA_ROOT" -czf "$FOLDER/media.tar.gz" .
    else
      tar -czf "$FOLDER/media.tar.gz" -T /dev/null  # nothing stored yet: an empty archive
    fi
    archive=(--files-archive media.tar.gz)
    ;;
  storage)
    say "Stored files: every object through the storage API → $FOLDER/files"
    "$PY" manage.py storage_export "$FOLDER"
    ;;
  *) die "unknown storage kind: $BC_BACKUP_FILES" ;;
esac

"$PY" manage.py backup_helper manifest "$FOLDER" --files-kind "$BC_BACKUP_FILES" "${archive[@]}"
(
  cd "$FOLDER"
  sums=(database.dump storage-manifest.json manifest.json)
  [[ -f media.tar.gz ]] && sums+=(media.tar.gz)
  sha256sum "${sums[@]}" >SHA256SUMS
)
say "Backup complete: $FOLDER"
echo "$FOLDER"
