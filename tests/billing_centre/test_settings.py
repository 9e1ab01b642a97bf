"""Settings from the environment: production is clean under check --deploy, secrets are required.

Each test runs manage.py or Python in a subprocess with a controlled environment, because
settings are read once per process.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]

PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
    "DJANGO_ALLOWED_HOSTS": "billing.example.com",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://billing.example.com",
    # check --deploy does not connect: nothing listens on port 1.
    "DATABASE_URL": "postgres://billing:secret@127.0.0.1:1/billing_centre",
    "REDIS_URL": "redis://127.0.0.1:1/0",
    "SITE_URL": "https://billing.example.com",
    "DEFAULT_FROM_EMAIL": "Billing Centre <billing@example.com>",
}


def _env(**overrides: str) -> dict[str, str]:
    """A clean environment: no variable of the developer's shell leaks into the settings.

    Variables a .env file could supply are set explicitly (empty means unset for the settings).
    """
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp")}
    for name in (
        "DJANGO_SECRET_KEY",
        "DJANGO_ALLOWED_HOSTS",
        "DATABASE_URL",
        "REDIS_URL",
        "EMAIL_URL",
        "SITE_URL",
        "BC_SITE_URL_ALLOW_HTTP",
    ):
        env[name] = ""
    env.update(overrides)
    return env


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _settings_of(env: dict[str, str], *names: str) -> dict:
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        f"print(json.dumps({{n: getattr(s, n) for n in {list(names)!r}}}, default=str))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env={**env, "DJANGO_SETTINGS_MODULE": "billing_centre.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_check_deploy_reports_nothing_with_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "DEBUG", env=_env(**PRODUCTION))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNING" not in result.stdout + result.stderr


@pytest.mark.parametrize("name", ["DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL", "SITE_URL"])
def test_missing_production_variable_stops_start_up_naming_it(name):
    env = _env(**PRODUCTION)
    env[name] = ""

    result = _manage("check", env=env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert name in result.stderr.strip().splitlines()[-1]


def _setup_error(env: dict[str, str]) -> str:
    """The last line of stderr of ``django.setup()`` under ``env`` (which must fail)."""
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=BASE_DIR,
        env={**env, "DJANGO_SETTINGS_MODULE": "billing_centre.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0, "django.setup() succeeded"
    return result.stderr.strip().splitlines()[-1]


def test_production_without_redis_stops_instead_of_running_tasks_in_requests():
    env = _env(**PRODUCTION)
    env["REDIS_URL"] = ""

    last_line = _setup_error(env)

    assert last_line == (
        "django.core.exceptions.ImproperlyConfigured: REDIS_URL must be set when DJANGO_DEBUG=0 (see .env.example)."
    )


def test_production_refuses_an_http_site_url():
    last_line = _setup_error(_env(**{**PRODUCTION, "SITE_URL": "http://billing.example.com"}))

    assert "ImproperlyConfigured" in last_line
    assert "SITE_URL must start with https://" in last_line
    assert "BC_SITE_URL_ALLOW_HTTP=1" in last_line


@pytest.mark.parametrize("value", ["billing.example.com", "https://", "ftp://billing.example.com"])
def test_production_refuses_a_site_url_that_is_not_an_address(value):
    last_line = _setup_error(_env(**{**PRODUCTION, "SITE_URL": value}))

    assert "ImproperlyConfigured: SITE_URL must be an absolute address" in last_line


def test_production_accepts_an_http_site_url_only_when_told_to():
    env = _env(**{**PRODUCTION, "SITE_URL": "http://127.0.0.1:8080", "BC_SITE_URL_ALLOW_HTTP": "1"})

    assert _settings_of(env, "SITE_URL", "DEBUG") == {"SITE_URL": "http://127.0.0.1:8080", "DEBUG": False}


def test_development_keeps_its_defaults_without_redis_or_site_url():
    values = _settings_of(_env(), "SITE_URL", "REDIS_URL", "CELERY_TASK_ALWAYS_EAGER")

    assert values == {"SITE_URL": "http://127.0.0.1:8000", "REDIS_URL": "", "CELERY_TASK_ALWAYS_EAGER": True}


def test_production_turns_on_https_and_secure_cookies():
    values = _settings_of(
        _env(**PRODUCTION),
        "DEBUG",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "CSRF_TRUSTED_ORIGINS",
        "ALLOWED_HOSTS",
    )

    assert values == {
        "DEBUG": False,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "CSRF_TRUSTED_ORIGINS": ["https://billing.example.com"],
        "ALLOWED_HOSTS": ["billing.example.com"],
    }


def test_local_default_is_sqlite_with_eager_celery_and_korean():
    values = _settings_of(
        _env(),
        "DEBUG",
        "DATABASES",
        "CELERY_TASK_ALWAYS_EAGER",
        "CELERY_BROKER_URL",
        "LANGUAGE_CODE",
        "LANGUAGES",
        "TIME_ZONE",
    )

    assert values["DEBUG"] is True
    assert values["DATABASES"]["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert values["DATABASES"]["default"]["NAME"].endswith("db.sqlite3")
    assert values["CELERY_TASK_ALWAYS_EAGER"] is True
    assert values["CELERY_BROKER_URL"] == "memory://"
    assert values["LANGUAGE_CODE"] == "ko"
    assert [code for code, _ in values["LANGUAGES"]] == ["ko", "en"]
    assert values["TIME_ZONE"] == "Asia/Seoul"


def test_database_and_redis_urls_select_postgresql_and_a_real_broker():
    values = _settings_of(
        _env(DATABASE_URL="postgres://postgres@127.0.0.1:5432/example", REDIS_URL="redis://127.0.0.1:6379/3"),
        "DATABASES",
        "CELERY_TASK_ALWAYS_EAGER",
        "CELERY_BROKER_URL",
        "CELERY_RESULT_BACKEND",
        "CACHES",
    )

    assert values["DATABASES"]["default"]["ENGINE"] == "django.db.backends.postgresql"
    assert values["DATABASES"]["default"]["NAME"] == "example"
    assert values["CELERY_TASK_ALWAYS_EAGER"] is False
    assert values["CELERY_BROKER_URL"] == "redis://127.0.0.1:6379/3"
    assert values["CELERY_RESULT_BACKEND"] == "redis://127.0.0.1:6379/3"
    # Redis, and the database while Redis cannot be reached: a Redis outage fails no page, and the
    # rate limits kept in the cache keep counting (issue 13, core/cache.py).
    assert values["CACHES"]["default"]["BACKEND"] == "core.cache.FailoverCache"
    assert values["CACHES"]["redis"]["BACKEND"] == "django_redis.cache.RedisCache"
    assert values["CACHES"]["redis"]["LOCATION"] == "redis://127.0.0.1:6379/3"
    assert values["CACHES"]["database"]["BACKEND"] == "core.cache.DatabaseCache"


def test_env_example_lists_every_variable_settings_reads():
    import re

    source = (BASE_DIR / "billing_centre" / "settings.py").read_text()
    read = set(re.findall(r'(?:env\.\w+|_required)\(\s*"([A-Z][A-Z0-9_]+)"', source))
    listed = set(re.findall(r"^(?:# )?([A-Z][A-Z0-9_]+)=", (BASE_DIR / ".env.example").read_text(), re.MULTILINE))

    assert read, "no variables found in settings.py"
    assert read - listed == set()
