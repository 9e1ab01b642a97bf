"""storage_export / storage_import: every stored file out and back through Django's storage API.

Run against the local folder and against S3 (moto's server on loopback, tests/storage_server.py):
the same commands back up either backend (scripts/backup.sh uses them for S3).
"""

from __future__ import annotations

import json

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

from core.storage_copy import storage_names

FILES = {
    "documents/INV000000001/v1-ko.pdf": b"%PDF-1.7\n" + bytes(range(256)) * 40,
    "documents/INV000000001/v1-en.pdf": b"%PDF-1.7\nenglish",
    "exports/7/12.zip": b"PK\x03\x04" + b"\x00" * 1000,
    "disputes/3/영수증 사진.jpg": "사진".encode() * 100,
    "top-level.txt": b"x",
}


@pytest.fixture(params=["local", "s3"])
def storage(request):
    if request.param == "s3":
        request.getfixturevalue("s3_storage")
    for name, content in FILES.items():
        assert default_storage.save(name, ContentFile(content)) == name
    return default_storage


def _empty(storage) -> None:
    for name in list(storage_names(storage)):
        storage.delete(name)
    assert list(storage_names(storage)) == []


def test_export_then_import_into_an_empty_storage_brings_back_every_byte(storage, tmp_path):
    call_command("storage_export", str(tmp_path / "backup"))
    manifest = json.loads((tmp_path / "backup" / "storage-manifest.json").read_text())
    assert manifest["count"] == len(FILES)
    assert sorted(entry["name"] for entry in manifest["files"]) == sorted(FILES)
    _empty(storage)

    call_command("storage_import", str(tmp_path / "backup"))

    assert sorted(storage_names(storage)) == sorted(FILES)
    for name, content in FILES.items():
        with storage.open(name, "rb") as fh:
            assert fh.read() == content


def test_import_refuses_a_storage_that_holds_files_unless_forced(storage, tmp_path):
    call_command("storage_export", str(tmp_path / "backup"))
    storage.delete("top-level.txt")
    storage.save("top-level.txt", ContentFile(b"changed since the backup"))

    with pytest.raises(CommandError, match="already holds files"):
        call_command("storage_import", str(tmp_path / "backup"))
    call_command("storage_import", str(tmp_path / "backup"), "--force")

    with storage.open("top-level.txt", "rb") as fh:
        assert fh.read() == b"x"


def test_import_refuses_a_file_that_differs_from_its_manifest(storage, tmp_path):
    call_command("storage_export", str(tmp_path / "backup"))
    (tmp_path / "backup" / "files" / "exports" / "7" / "12.zip").write_bytes(b"tampered")
    _empty(storage)

    with pytest.raises(CommandError, match="exports/7/12.zip: the backup's copy does not match its manifest"):
        call_command("storage_import", str(tmp_path / "backup"))


def test_manifest_only_lists_and_hashes_without_copying(storage, tmp_path):
    call_command("storage_export", str(tmp_path / "backup"), "--manifest-only")

    manifest = json.loads((tmp_path / "backup" / "storage-manifest.json").read_text())
    assert manifest["files_copied"] is False
    assert manifest["count"] == len(FILES)
    assert not (tmp_path / "backup" / "files").exists()
