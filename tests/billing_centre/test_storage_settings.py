"""STORAGES["default"] from the environment (issue 15): the local folder by default, django-storages'
S3 backend with BC_STORAGE=s3, and a clear refusal of settings that cannot work.

Settings are read once per process: each case runs Python in a subprocess with its environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]

PRINT_STORAGE = """
import json, django
from django.conf import settings
django.setup()
from django.core.files.storage import default_storage
default_storage._setup()  # the storage Django builds from STORAGES, as a request would get it
options = settings.STORAGES["default"].get("OPTIONS", {})
config = options.get("client_config")
print(json.dumps({
    "backend": settings.STORAGES["default"]["BACKEND"],
    "class": type(default_storage._wrapped).__name__,
    "bucket": getattr(default_storage, "bucket_name", None),
    "endpoint": getattr(default_storage, "endpoint_url", None),
    "region": getattr(default_storage, "region_name", None),
    "acl": getattr(default_storage, "default_acl", "unset"),
    "querystring_auth": getattr(default_storage, "querystring_auth", None),
    "expire": getattr(default_storage, "querystring_expire", None),
    "file_overwrite": getattr(default_storage, "file_overwrite", None),
    "addressing": config.s3["addressing_style"] if config else None,
    "downloads": settings.BC_STORAGE_DOWNLOADS,
    "retention": settings.BC_EXPORT_RETENTION_DAYS,
}))
"""


def _run(**env: str) -> subprocess.CompletedProcess:
    clean = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "billing_centre.settings",
        # Empty means unset for the settings (a .env file cannot fill them in).
        "BC_STORAGE": "",
        "BC_STORAGE_DOWNLOADS": "",
        "AWS_STORAGE_BUCKET_NAME": "",
        "AWS_S3_ENDPOINT_URL": "",
        "AWS_S3_REGION_NAME": "",
        "AWS_ACCESS_KEY_ID": "",
        "AWS_SECRET_ACCESS_KEY": "",
        "DATABASE_URL": "",
        "REDIS_URL": "",
    }
    clean.update(env)
    for name, value in list(clean.items()):
        if value == "" and name.startswith("BC_STORAGE"):
            del clean[name]  # their defaults apply
    return subprocess.run(
        [sys.executable, "-c", PRINT_STORAGE], cwd=BASE_DIR, env=clean, capture_output=True, text=True, timeout=120
    )


def _storage(**env: str) -> dict:
    result = _run(**env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_default_is_the_local_folder_streamed():
    storage = _storage()
    assert storage["backend"] == "django.core.files.storage.FileSystemStorage"
    assert storage["downloads"] == "stream" and storage["retention"] == 7


def test_bc_storage_s3_uses_django_storages_with_private_signed_short_lived_urls():
    storage = _storage(
        BC_STORAGE="s3",
        BC_STORAGE_DOWNLOADS="redirect",
        AWS_STORAGE_BUCKET_NAME="bc-files",
        AWS_S3_ENDPOINT_URL="http://127.0.0.1:9000",
        AWS_S3_REGION_NAME="ap-northeast-2",
        AWS_ACCESS_KEY_ID="key",
        AWS_SECRET_ACCESS_KEY="secret",
    )
    assert storage["backend"] == "storages.backends.s3.S3Storage" and storage["class"] == "S3Storage"
    assert storage["bucket"] == "bc-files" and storage["endpoint"] == "http://127.0.0.1:9000"
    assert storage["region"] == "ap-northeast-2"
    assert storage["acl"] is None  # no ACL sent: private, the bucket decides
    assert storage["querystring_auth"] is True and storage["expire"] == 60
    assert storage["file_overwrite"] is False
    assert storage["addressing"] == "path"
    assert storage["downloads"] == "redirect"


def test_settings_that_cannot_work_stop_the_start_with_a_clear_message():
    missing_bucket = _run(BC_STORAGE="s3")
    assert missing_bucket.returncode != 0
    assert "AWS_STORAGE_BUCKET_NAME must be set when BC_STORAGE=s3" in missing_bucket.stderr

    redirect_local = _run(BC_STORAGE_DOWNLOADS="redirect")
    assert redirect_local.returncode != 0
    assert "BC_STORAGE_DOWNLOADS=redirect needs BC_STORAGE=s3" in redirect_local.stderr

    unknown = _run(BC_STORAGE="ftp")
    assert unknown.returncode != 0 and "BC_STORAGE must be local or s3" in unknown.stderr
