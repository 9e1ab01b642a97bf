#!/usr/bin/env bash
# Install everything Billing Centre needs, idempotently and quickly on repeat runs:
#   1. Debian packages (fonts, HarfBuzz subsetter, Pango for WeasyPrint, Chromium for browser
#      tests, gettext, poppler-utils). Checked with dpkg-query first; apt-get runs only when
#      something is missing, and only as root. Otherwise it says what to install and goes on.
#   2. A virtual environment in .venv (or $BC_VENV) with the newest supported Python (3.11-3.13)
#      found, or the one $BC_PYTHON names; an existing venv of a supported version is kept.
#   3. `pip install -e .[dev]` constrained by requirements.lock, skipped while pyproject.toml and
#      requirements.lock are unchanged since the last install (stamp file in .venv).
#   4. Compiled translations (.mo) when a .po file is newer than its .mo.
#   5. axe-core for the accessibility tests (npm ci into tests/a11y/vendor, when missing).
#
# Environment: BC_EXTRA_APT="pkg ..." adds Debian packages (CI adds postgresql redis-server);
# BC_SKIP_APT=1 skips step 1. BC_PYTHON=/path/to/python3.x (or a command name) chooses the
# interpreter; BC_VENV=/path builds/uses that virtual environment instead of .venv (e.g. a second
# venv to try the suite on another Python: BC_VENV=/tmp/venv313 BC_PYTHON=python3.13).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT="$(pwd)"
VENV="${BC_VENV:-$ROOT/.venv}"
STAMP="$VENV/.billing-centre-install"

say() { printf '==> %s\n' "$*"; }
warn() { printf '!!  %s\n' "$*" >&2; }

# --- 1. System packages ---------------------------------------------------------------------
APT_PACKAGES=(
  fonts-nanum            # Korean glyphs in PDFs; without it Hangul renders as empty boxes
  libharfbuzz-subset0    # font subsetting: a one-page WeasyPrint render ~0.13 s instead of ~0.9 s
  libpango-1.0-0         # WeasyPrint's text layout
  libpangoft2-1.0-0
  chromium               # browser tests (Playwright drives Debian's Chromium)
  gettext                # makemessages / compilemessages
  poppler-utils          # pdftotext / pdffonts in PDF tests
  wrk                    # the HTTP load generator of bench/run.py (make bench)
  docker-compose         # `docker-compose config -q` validates docker-compose.yml in CI (no engine needed)
  nginx                  # make rehearsal: the TLS proxy in front of two web hosts (run as our own process)
  openssl                # make rehearsal: its throw-away self-signed certificate for nginx
  pgbouncer              # tests/faults/test_pgbouncer.py runs its own instance on a free port (not the service)
  postgresql-client      # pg_dump / pg_restore / psql of make backup / make restore (tests/billing_centre/test_backup.py)
)
# npm installs axe-core for the accessibility tests; skipped where node/npm already exist.
command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(npm)
# shellcheck disable=SC2206
APT_PACKAGES+=(${BC_EXTRA_APT:-})

system_packages() {
  if [[ "${BC_SKIP_APT:-0}" == "1" ]]; then
    return 0
  fi
  if ! command -v dpkg-query >/dev/null 2>&1; then
    warn "Not a Debian system: make sure these (or your system's equivalents) are installed:"
    warn "  ${APT_PACKAGES[*]}"
    return 0
  fi
  local missing=() pkg
  for pkg in "${APT_PACKAGES[@]}"; do
    if [[ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null)" != "installed" ]]; then
      missing+=("$pkg")
    fi
  done
  if ((${#missing[@]} == 0)); then
    return 0
  fi
  if [[ "$(id -u)" != "0" ]]; then
    warn "Missing system packages (not root, so not installing them):"
    warn "  sudo apt-get install --no-install-recommends ${missing[*]}"
    warn "Carrying on; PDFs, browser tests or translations may not work until they are installed."
    return 0
  fi
  say "Installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; }; then
    warn "apt-get could not install: ${missing[*]} (offline?). Carrying on."
  fi
}

# --- 2. Python virtual environment (3.11, 3.12 or 3.13) ---------------------------------------
# pyproject.toml: requires-python = ">=3.11,<3.14". Keep these in step with it.
SUPPORTED_PYTHONS="3.11, 3.12 or 3.13"
is_supported() { "$1" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] <= (3, 13) else 1)' >/dev/null 2>&1; }
minor_of() { "$1" -c 'import sys; print(sys.version_info[1])' 2>/dev/null; }

# Every interpreter that runs and is supported, one a line; the newest wins (pyenv shims of a
# version that is not active fail to run, so the pyenv install folders are tried as well).
find_python() {
  if [[ -n "${BC_PYTHON:-}" ]]; then
    if is_supported "$BC_PYTHON"; then
      command -v "$BC_PYTHON" 2>/dev/null || echo "$BC_PYTHON"
      return 0
    fi
    warn "BC_PYTHON=$BC_PYTHON is not a working Python $SUPPORTED_PYTHONS."
    return 1
  fi
  local candidate best="" best_minor=-1 minor
  local pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
  for candidate in python3.13 python3.12 python3.11 python3 \
    "$pyenv_root"/versions/3.13*/bin/python3 "$pyenv_root"/versions/3.12*/bin/python3 \
    "$pyenv_root"/versions/3.11*/bin/python3; do
    [[ "$candidate" == */* && ! -x "$candidate" ]] && continue
    is_supported "$candidate" || continue
    minor="$(minor_of "$candidate")"
    if ((minor > best_minor)); then
      best="$candidate" best_minor=$minor
    fi
  done
  [[ -n "$best" ]] || return 1
  if [[ "$best" != */* ]]; then
    best="$(command -v "$best")"
  fi
  echo "$best"
}

virtualenv() {
  if [[ -x "$VENV/bin/python" ]]; then
    if is_supported "$VENV/bin/python"; then
      return 0
    fi
    warn "$VENV is not Python $SUPPORTED_PYTHONS: remove it (rm -rf $VENV) and run again."
    exit 1
  fi
  local python
  if ! python="$(find_python)"; then
    [[ -n "${BC_PYTHON:-}" ]] && exit 1
    warn "Python $SUPPORTED_PYTHONS is needed; none found (python3.13, python3.12, python3.11, python3,"
    warn "or pyenv's ~/.pyenv/versions/3.1[1-3]*). Debian 13: apt-get install python3 python3-venv;"
    warn "Ubuntu 24.04: apt-get install python3 python3-venv; Debian 12: apt-get install python3.11-venv;"
    warn "or: pyenv install 3.13 (then run again, or set BC_PYTHON=/path/to/python3.13)."
    exit 1
  fi
  say "Creating $VENV with $python ($("$python" -c 'import platform; print(platform.python_version())'))"
  "$python" -m venv "$VENV"
}

# --- 3. Python packages ---------------------------------------------------------------------
install_stamp() { cat pyproject.toml requirements.lock 2>/dev/null | sha256sum | cut -d' ' -f1; }

python_packages() {
  local want
  want="$(install_stamp)"
  if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
    return 0
  fi
  say "Installing Python packages (pip install -e .[dev] -c requirements.lock)"
  local constraint=()
  [[ -f requirements.lock ]] && constraint=(-c requirements.lock)
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[dev]" "${constraint[@]}"
  echo "$want" >"$STAMP"
}

# --- 4. Compiled translations ---------------------------------------------------------------
translations() {
  [[ -d locale ]] || return 0
  command -v msgfmt >/dev/null 2>&1 || { warn "gettext (msgfmt) missing: translations not compiled."; return 0; }
  local po mo stale=0
  while IFS= read -r -d '' po; do
    mo="${po%.po}.mo"
    if [[ ! -f "$mo" || "$po" -nt "$mo" ]]; then
      stale=1
      break
    fi
  done < <(find locale -name '*.po' -print0)
  if ((stale)); then
    say "Compiling translations"
    "$VENV/bin/python" manage.py compilemessages --ignore=.venv >/dev/null
  fi
}

# --- 5. axe-core for the accessibility tests (npm, pinned by tests/a11y/vendor/package-lock.json)
axe_core() {
  local vendor="tests/a11y/vendor"
  [[ -f "$vendor/package-lock.json" ]] || return 0
  [[ -f "$vendor/node_modules/axe-core/axe.min.js" ]] && return 0
  if ! command -v npm >/dev/null 2>&1; then
    warn "npm missing: the accessibility tests (tests/a11y) will be skipped (apt-get install npm)."
    return 0
  fi
  say "Installing axe-core (npm ci in $vendor)"
  npm ci --prefix "$vendor" --no-audit --no-fund --silent || warn "npm ci failed: tests/a11y will be skipped."
}

system_packages
virtualenv
python_packages
axe_core
mkdir -p var/staticfiles  # STATIC_ROOT: WhiteNoise warns when it is missing
translations
say "Setup complete."
