#!/usr/bin/env bash
# `make seed`: (re)create the deterministic demo data (idempotent) and keep the printed logins
# in var/demo-logins.txt, which `make run` shows before serving.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p var
.venv/bin/python manage.py seed_demo "$@" | tee var/demo-logins.txt.tmp
# Keep the logins, not the "created / already present" status line.
grep -v '^Demo data ' var/demo-logins.txt.tmp >var/demo-logins.txt || true
rm -f var/demo-logins.txt.tmp
