#!/usr/bin/env bash
# make rehearsal: the production topology of docker-compose.yml on 127.0.0.1, without Docker, under
# a bounded load, with one web host and one worker SIGKILLed and brought back; then the database is
# checked (bench/rehearsal.py does the work; docs/operations.md "The rehearsal" explains it).
#
#   nginx (TLS) -> two gunicorn hosts (different DJANGO_MEDIA_ROOT) -> PgBouncer -> PostgreSQL
#   + its own redis-server, moto's S3 server (BC_STORAGE=s3), two Celery workers and beat.
#
# Needs: PostgreSQL on 127.0.0.1:5432 (trust auth for postgres; REHEARSAL_POSTGRES=postgres://...
# for another), and nginx, pgbouncer, redis-server, openssl (scripts/setup.sh installs them).
# Options go to the driver: scripts/rehearsal.sh --duration 60 --users 8 (--help lists them).
# Everything runs as our own processes in a temporary folder; on exit (also Ctrl-C) every process
# group started is killed and the run's database dropped. The folder (logs) is kept when the run
# fails, when a request failed outside the kill window, or with --keep.
set -euo pipefail

cd "$(dirname "$0")/.."
PY=.venv/bin/python

missing=()
for tool in nginx pgbouncer redis-server openssl psql; do
  command -v "$tool" >/dev/null 2>&1 || [[ -x "/usr/sbin/$tool" ]] || missing+=("$tool")
done
if ! "$PY" -c 'import moto.server, boto3, storages' >/dev/null 2>&1; then
  missing+=("moto[server] and django-storages in .venv (make setup)")
fi
if ((${#missing[@]})); then
  echo "rehearsal: missing: ${missing[*]} (make setup installs them; as root for the Debian ones)" >&2
  exit 2
fi
export PATH="$PATH:/usr/sbin"
if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  echo "rehearsal: PostgreSQL does not answer on 127.0.0.1:5432" >&2
  exit 2
fi

RUN_DIR="$(mktemp -d /tmp/bc-rehearsal.XXXXXX)"
chmod 755 "$RUN_DIR"
KEEP=0
for arg in "$@"; do [[ "$arg" == "--keep" ]] && KEEP=1; done

cleanup() {
  local rc=$? pgid
  trap - EXIT INT TERM
  # The driver stops what it started; this is the backstop for a driver that was killed.
  if [[ -n "${DRIVER_PID:-}" ]] && kill -0 "$DRIVER_PID" 2>/dev/null; then
    kill -TERM "$DRIVER_PID" 2>/dev/null || true
    wait "$DRIVER_PID" 2>/dev/null || true
  fi
  if [[ -f "$RUN_DIR/pgids" ]]; then
    while read -r pgid; do
      [[ -n "$pgid" ]] && kill -KILL -- "-$pgid" 2>/dev/null || true
    done <"$RUN_DIR/pgids"
  fi
  if ((rc == 0 && KEEP == 0)) && [[ ! -f "$RUN_DIR/keep" ]]; then
    rm -rf "$RUN_DIR"
  else
    echo "rehearsal: logs kept in $RUN_DIR/logs (nginx: $RUN_DIR/nginx/access.log)" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$PY" bench/rehearsal.py --run-dir "$RUN_DIR" "$@" &
DRIVER_PID=$!
wait "$DRIVER_PID"
