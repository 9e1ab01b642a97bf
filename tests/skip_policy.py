"""In CI a test that needs a service is never skipped: the skip fails the run, naming the test
and what was missing.

A test that needs PostgreSQL, Redis, real Celery workers or Chromium carries a ``needs_*``
marker (registered in pyproject.toml); every test that uses the ``browser`` or ``page`` fixture
gets ``needs_chromium`` here, so no browser test can be left unmarked. Without the service, such
a test skips with the reason on a developer's machine. With ``CI=true`` that skip becomes a
failure: a service lost in CI must not turn a headline guarantee (one charge under concurrency,
AutoPay runs once, axe on every page, …) into a quiet "s" in the progress line.

tests/conftest.py registers this module as a plugin; tests/test_skip_policy.py runs it with
pytest's ``pytester`` against small test files.
"""

from __future__ import annotations

import os

import pytest

# marker → the service a skip of a test carrying it means is missing
SERVICES = {
    "needs_postgres": "PostgreSQL",
    "needs_redis": "Redis",
    "needs_worker": "a Celery worker",
    "needs_chromium": "Chromium",
}
BROWSER_FIXTURES = frozenset({"browser", "page"})

_FAILED_SKIPS = pytest.StashKey[list]()


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def services_needed(item) -> list[str]:
    return [service for marker, service in SERVICES.items() if item.get_closest_marker(marker)]


def skip_reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # (path, line, "Skipped: reason")
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


@pytest.hookimpl(tryfirst=True)  # before -m selects by marker
def pytest_collection_modifyitems(config, items):
    for item in items:
        if BROWSER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.needs_chromium)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if not report.skipped or hasattr(report, "wasxfail") or not in_ci():
        return report
    services = services_needed(item)
    if not services:
        return report
    reason = skip_reason(report)
    message = f"CI=true: {item.nodeid} needs {' and '.join(services)} but was skipped: {reason}"
    report.outcome = "failed"
    report.longrepr = message
    item.config.stash.setdefault(_FAILED_SKIPS, []).append(message)
    return report


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if config.option.collectonly:
        return
    skipped = len(terminalreporter.stats.get("skipped", []))
    failed_skips = config.stash.get(_FAILED_SKIPS, [])
    terminalreporter.section("skips", sep="-")
    terminalreporter.write_line(f"{skipped} skipped")
    if failed_skips:
        terminalreporter.write_line(f"{len(failed_skips)} skipped for a missing service and failed (CI=true):")
        for message in failed_skips:
            terminalreporter.write_line(f"  {message.removeprefix('CI=true: ')}")
