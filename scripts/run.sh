#!/usr/bin/env bash
# `make run`: install, migrate, seed the demo into an empty database, print the demo logins and
# serve http://127.0.0.1:8000 (SQLite and eager Celery unless DATABASE_URL / REDIS_URL are set).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
ADDR="${BC_ADDR:-127.0.0.1:8000}"
LOGINS=var/demo-logins.txt

bash scripts/setup.sh

echo "==> Migrating the database"
"$PY" manage.py migrate --no-input

has_companies() {
  DJANGO_SETTINGS_MODULE=billing_centre.settings "$PY" -c \
    "import sys, django; django.setup(); from accounts.models import Company; sys.exit(0 if Company.objects.exists() else 3)"
}

if has_companies; then
  echo "==> The database has data: not seeding (make seed re-runs the idempotent seed)"
  echo
  if [[ -s "$LOGINS" ]]; then
    cat "$LOGINS"
  else
    echo "Demo logins: run 'make seed' to (re)create the demo users and print them."
  fi
else
  echo "==> Seeding the demo data"
  # seed_demo prints the demo logins; seed.sh keeps them in $LOGINS to show on later runs.
  bash scripts/seed.sh
fi
echo
echo "==> Serving http://$ADDR/  (Ctrl+C to stop)"
exec "$PY" manage.py runserver "$ADDR"
