import pytest

from tests import skip_policy
from tests.accounts.factories import PASSWORD

# S3 on a real server on loopback (moto): moto_server, s3_storage, s3_outage (tests/storage_server.py).
from tests.storage_server import moto_server, s3_outage, s3_storage  # noqa: F401


def pytest_configure(config):
    """tests/skip_policy.py: with CI=true, a skipped test marked needs_postgres, needs_redis,
    needs_worker or needs_chromium fails the run, naming the test and the missing service."""
    if not config.pluginmanager.is_registered(skip_policy):
        config.pluginmanager.register(skip_policy, "bc_skip_policy")


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    """Stored files go to a per-test folder; passwords hash fast (security is not under test here)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _test_cache_and_celery(settings):
    """Each test gets a fresh in-process cache, and Celery tasks run eagerly in the test.

    With REDIS_URL set (CI), the settings point the cache and Celery at Redis: a shared cache
    would carry rate-limit counters from one test (and one run) to the next, and ``.delay()``
    would queue to a broker no worker reads. tests/billing_centre/test_celery.py turns eager
    mode off for its one test against a real worker.
    """
    from django.core.cache import cache

    from billing_centre.celery import app

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache.clear()
    saved = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.CELERY_TASK_EAGER_PROPAGATES = True
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@pytest.fixture
def password():
    return PASSWORD


@pytest.fixture
def frozen_clock():
    """The wall clock stopped for the test (time-machine, ``tick=False``).

    allauth accepts only the TOTP code of the current 30-second step (tolerance 0): a code the
    test computes from the clock and posts a moment later fails whenever a step boundary falls
    in between. With the clock stopped, the step the code was computed for is the step allauth
    checks it against. For in-process tests only (``time.monotonic`` still runs, so timeouts and
    Redis retries behave); browser tests wait for a fresh step instead (tests/browser).
    """
    import time

    import time_machine

    with time_machine.travel(time.time(), tick=False) as traveller:
        yield traveller


@pytest.fixture
def login(client):
    """Log a user in through the session (allauth log-in itself is tested separately)."""

    def _login(user):
        client.force_login(user)
        return client

    return _login


# --- Browser tests: Playwright driving Debian's Chromium (never a downloaded browser) ---

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser():
    import os
    import shutil

    if not shutil.which(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (run `make setup` as root)")
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls in the
    # test body are still synchronous and safe.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request):
    """A fresh browser context per test; a screenshot is saved when the test fails."""
    import pathlib

    context = browser.new_context(locale="ko-KR", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        out = pathlib.Path("test-artifacts")
        out.mkdir(exist_ok=True)
        page.screenshot(path=str(out / f"{request.node.name}.png"), full_page=True)
    context.close()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def browser_login(page, live_server):
    """Log a user in through the real log-in form."""

    def _login(user, password=PASSWORD):
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=login]", user.username)
        page.fill("input[name=password]", password)
        page.click("main form button[type=submit]")  # not the header's language buttons
        page.wait_for_load_state()
        return page

    return _login


@pytest.fixture
def smtp_down(monkeypatch, settings):
    """The mail server refuses every message (SMTP 451) until the test sets ``state["down"] = False``."""
    from smtplib import SMTPException

    from django.core.mail.backends.locmem import EmailBackend

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    state = {"down": True}
    original = EmailBackend.send_messages

    def send_messages(self, messages):
        if state["down"]:
            raise SMTPException("451 mail server unavailable")
        return original(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", send_messages)
    return state
