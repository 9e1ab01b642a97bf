#!/usr/bin/env bash
# Run the whole test suite (after setup) against whatever DATABASE_URL says (SQLite by default).
# Extra arguments go to pytest: scripts/test.sh tests/accounts -x
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit $?
.venv/bin/python -m pytest "$@"
rc=$?
if ((rc == 5)); then
  echo "ERROR: pytest collected no tests (exit code 5). The suite has real tests: check the" >&2
  echo "       arguments, testpaths in pyproject.toml and that the test files import." >&2
fi
exit "$rc"
