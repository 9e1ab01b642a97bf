#!/usr/bin/env bash
# Run the whole test suite (after setup) against whatever DATABASE_URL says (SQLite by default).
# Extra arguments go to pytest: scripts/test.sh tests/accounts -x
# The suite runs in one process per CPU (pytest-xdist; tests/parallel.py gives each its own Redis
# database, pytest-django its own test database). BC_TEST_PROCESSES=0 runs it in this process.
# BC_VENV / BC_PYTHON choose another virtual environment and interpreter (scripts/setup.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit $?
parallel=(-n "${BC_TEST_PROCESSES:-auto}")
for arg in "$@"; do
  case "$arg" in -n | -n* | --numprocesses*) parallel=() ;; esac
done
"${BC_VENV:-.venv}/bin/python" -m pytest "${parallel[@]}" "$@"
rc=$?
if ((rc == 5)); then
  echo "ERROR: pytest collected no tests (exit code 5). The suite has real tests: check the" >&2
  echo "       arguments, testpaths in pyproject.toml and that the test files import." >&2
fi
exit "$rc"
