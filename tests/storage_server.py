"""A real S3-compatible server on loopback for the storage tests: moto's standalone server (moto[server]
from PyPI, a dev dependency), started as its own process on a free port of 127.0.0.1.

Fixtures (imported by tests/conftest.py):

- ``moto_server``: one server for the session.
- ``s3_storage``: ``settings.STORAGES["default"]`` switched to django-storages' S3 backend against
  it, with a fresh bucket for the test (the ``settings`` fixture fires ``setting_changed``, and
  Django 5.2 then drops its cached storages and ``default_storage``; checked here).
- ``s3_outage``: like ``s3_storage`` but on a server of the test's own, which the test stops with
  ``s3_outage.kill()`` (SIGKILL) and may bring back (``s3_outage.restart()``: a new, empty server
  and bucket) to show what was retried.

Without moto installed the tests that use them skip, saying so; scripts/setup.sh installs it
(``pip install -e .[dev]``).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.processes import free_port

REGION = "us-east-1"
# moto accepts any credentials; these only have to be the same for the portal and the test.
ACCESS_KEY = "bc-test-access-key"
SECRET_KEY = "bc-test-secret-key"


class MotoServer:
    """``python -m moto.server -H 127.0.0.1 -p PORT`` in its own process."""

    def __init__(self, log_path: Path):
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self.endpoint = ""

    def start(self) -> MotoServer:
        port = free_port()
        self.endpoint = f"http://127.0.0.1:{port}"
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto server exited at start:\n{self.log()}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{self.endpoint}/moto-api/data.json", timeout=1):
                    return self
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"moto server did not answer on {self.endpoint} within 30 s:\n{self.log()}")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: the storage is gone at once, as a crashed or unreachable server."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )


class Bucket:
    """A bucket of the test, read straight from the server (not through the portal)."""

    def __init__(self, server: MotoServer, name: str):
        self.server = server
        self.name = name
        server.client().create_bucket(Bucket=name)

    def keys(self, prefix: str = "") -> list[str]:
        listing = self.server.client().list_objects_v2(Bucket=self.name, Prefix=prefix)
        return sorted(entry["Key"] for entry in listing.get("Contents", []))

    def read(self, key: str) -> bytes:
        return self.server.client().get_object(Bucket=self.name, Key=key)["Body"].read()

    def put(self, key: str, content: bytes) -> None:
        self.server.client().put_object(Bucket=self.name, Key=key, Body=content)


def _new_bucket_name() -> str:
    return f"bc-test-{uuid.uuid4().hex[:20]}"


def _use_bucket(settings, server: MotoServer) -> Bucket:
    """Point ``STORAGES["default"]`` at a fresh bucket of ``server``; return the bucket."""
    from django.core.files.storage import default_storage

    from billing_centre.settings import s3_storage as s3_storage_config

    bucket = Bucket(server, _new_bucket_name())
    settings.STORAGES = {
        **settings.STORAGES,
        "default": s3_storage_config(
            bucket=bucket.name,
            endpoint_url=server.endpoint,
            region=REGION,
            access_key=ACCESS_KEY,
            secret_key=SECRET_KEY,
        ),
    }
    # The settings fixture fired setting_changed: Django dropped its cached default storage.
    assert getattr(default_storage, "bucket_name", None) == bucket.name, "default_storage was not reset"
    return bucket


def _moto_or_skip():
    try:
        import moto.server  # noqa: F401
    except ImportError:
        pytest.skip("moto[server] is not installed (pip install -e .[dev]; scripts/setup.sh does it)")


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory):
    _moto_or_skip()
    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto.log").start()
    yield server
    server.kill()


@pytest.fixture
def s3_storage(settings, moto_server) -> Bucket:
    """The portal's file storage on S3 (moto), a fresh bucket for this test."""
    return _use_bucket(settings, moto_server)


class Outage:
    """An S3 server of the test's own, for the test to kill (and replace)."""

    def __init__(self, settings, log_path: Path):
        self.settings = settings
        self.server = MotoServer(log_path).start()
        self.bucket = _use_bucket(settings, self.server)

    def kill(self) -> None:
        self.server.kill()

    def restart(self) -> Bucket:
        """A new server (empty: moto keeps everything in memory) and bucket; the portal uses it."""
        self.kill()
        self.server = MotoServer(self.server.log_path).start()
        self.bucket = _use_bucket(self.settings, self.server)
        return self.bucket


@pytest.fixture
def s3_outage(settings, tmp_path):
    _moto_or_skip()
    outage = Outage(settings, tmp_path / "moto-outage.log")
    yield outage
    outage.kill()


def storage_unreachable(endpoint: str) -> bool:
    """Nothing answers at ``endpoint`` any more (the server was killed)."""
    try:
        urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=1)
    except urllib.error.URLError:
        return True
    return False
