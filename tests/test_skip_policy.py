"""tests/skip_policy.py, run by pytest itself on small test files: with CI=true a skipped test that
needs a service fails and names it; without CI it skips with its reason, as before."""

from __future__ import annotations

import pytest

from tests import skip_policy

pytest_plugins = ["pytester"]

INI = """
[pytest]
addopts = -ra --strict-markers
markers =
    needs_postgres: PostgreSQL
    needs_redis: Redis
    needs_worker: a Celery worker
    needs_chromium: Chromium
"""

TESTS = """
import pytest


@pytest.fixture(scope="session")
def browser():
    pytest.skip("Debian's chromium is not installed")


@pytest.mark.needs_redis
def test_real_worker_on_redis():
    pytest.skip("REDIS_URL is not set: no broker for a real worker")


@pytest.mark.needs_postgres
@pytest.mark.skipif(True, reason="SQLite has no row locks")
def test_two_payments_at_once():
    pass


def test_page_in_chromium(browser):
    pass


def test_needs_nothing_and_skips():
    pytest.skip("an optional tool is missing")


@pytest.mark.needs_postgres
@pytest.mark.xfail(reason="a known product bug", strict=True)
def test_marked_and_expected_to_fail():
    assert False
"""


@pytest.fixture
def run(pytester, monkeypatch):
    pytester.makeini(INI)
    pytester.makepyfile(test_services=TESTS)

    def _run(*, ci: bool):
        if ci:
            monkeypatch.setenv("CI", "true")
        else:
            monkeypatch.delenv("CI", raising=False)
        return pytester.runpytest("-p", "no:django", "-p", "no:cacheprovider", plugins=[skip_policy])

    return _run


def test_in_ci_a_skipped_test_that_needs_a_service_fails_naming_the_test_and_the_service(run):
    result = run(ci=True)

    outcomes = result.parseoutcomes()
    # Two skipped in the test body or its fixture/marker: failed (in call) or error (in setup).
    assert outcomes.get("failed", 0) + outcomes.get("errors", 0) == 3
    assert outcomes.get("skipped") == 1  # needs no service: still a skip
    assert outcomes.get("xfailed") == 1  # an expected failure is no skip
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    for line in [
        "CI=true: test_services.py::test_real_worker_on_redis needs Redis but was skipped: "
        "REDIS_URL is not set: no broker for a real worker",
        "CI=true: test_services.py::test_two_payments_at_once needs PostgreSQL but was skipped: SQLite has no row locks",
        "CI=true: test_services.py::test_page_in_chromium needs Chromium but was skipped: "
        "Debian's chromium is not installed",
    ]:
        result.stdout.fnmatch_lines([f"*{line}*"])
    result.stdout.fnmatch_lines(["1 skipped", "3 skipped for a missing service and failed (CI=true):"])


def test_without_ci_a_test_that_needs_a_missing_service_skips_with_the_reason(run):
    result = run(ci=False)

    result.assert_outcomes(skipped=4, xfailed=1)
    assert result.ret == pytest.ExitCode.OK
    for reason in [
        "REDIS_URL is not set: no broker for a real worker",
        "SQLite has no row locks",
        "Debian's chromium is not installed",
    ]:
        result.stdout.fnmatch_lines([f"SKIPPED*{reason}"])
    result.stdout.fnmatch_lines(["4 skipped"])
    result.stdout.no_fnmatch_line("*CI=true*")
