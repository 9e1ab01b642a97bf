"""Copy every stored file out of, and back into, Django's default storage (backups, docs/operations.md).

Works through the storage API only, so the same code backs up a local folder and an S3 bucket.
A copy is described by a manifest (``storage-manifest.json``): each file's storage name, size and
SHA-256, so a restore can prove every byte came back.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from django.core.files import File
from django.core.files.storage import Storage, default_storage

MANIFEST = "storage-manifest.json"
CHUNK = 1024 * 1024


class StorageCopyError(Exception):
    """A file is missing, differs from its manifest, or could not be stored under its name."""


def storage_names(storage: Storage = default_storage, path: str = "") -> Iterator[str]:
    """Every file name in ``storage`` below ``path``, sorted, walking folders (prefixes on S3)."""
    try:
        dirs, files = storage.listdir(path)
    except FileNotFoundError:  # a local storage whose folder was never created: nothing stored
        return
    for name in sorted(files):
        yield f"{path}/{name}" if path else name
    for folder in sorted(dirs):
        yield from storage_names(storage, f"{path}/{folder}" if path else folder)


def _safe_relative(name: str) -> PurePosixPath:
    relative = PurePosixPath(name)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise StorageCopyError(f"unsafe file name in the manifest: {name!r}")
    return relative


def _copy(source, target=None) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    for chunk in iter(lambda: source.read(CHUNK), b""):
        digest.update(chunk)
        size += len(chunk)
        if target is not None:
            target.write(chunk)
    return size, digest.hexdigest()


def storage_export(destination: Path, *, storage: Storage = default_storage, manifest_only: bool = False) -> dict:
    """Copy every file of ``storage`` into ``destination/files/<name>`` (unless ``manifest_only``)
    and write ``destination/storage-manifest.json``; the manifest is returned."""
    destination.mkdir(parents=True, exist_ok=True)
    entries = []
    for name in storage_names(storage):
        with storage.open(name, "rb") as source:
            if manifest_only:
                size, sha256 = _copy(source)
            else:
                path = destination / "files" / _safe_relative(name)
                path.parent.mkdir(parents=True, exist_ok=True)
                with path.open("wb") as target:
                    size, sha256 = _copy(source, target)
        entries.append({"name": name, "size": size, "sha256": sha256})
    manifest = {
        "backend": f"{type(storage).__module__}.{type(storage).__qualname__}",
        "count": len(entries),
        "bytes": sum(entry["size"] for entry in entries),
        "files_copied": not manifest_only,
        "files": entries,
    }
    (destination / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False))
    return manifest


def storage_manifest(source: Path) -> dict:
    return json.loads((source / MANIFEST).read_text())


def storage_import(source: Path, *, storage: Storage = default_storage, force: bool = False) -> int:
    """Store every file of ``source/files`` listed in its manifest under its own name; the count.

    Each file is checked against the manifest before it is stored. A storage that already holds
    files is refused unless ``force`` (then files of the same name are replaced).
    """
    manifest = storage_manifest(source)
    if not manifest.get("files_copied", True):
        raise StorageCopyError(f"{source} holds a manifest only (a local backup: restore its tar instead)")
    if not force and next(iter(storage_names(storage)), None) is not None:
        raise StorageCopyError("the storage already holds files: restore into an empty one, or pass --force")
    for entry in manifest["files"]:
        name = entry["name"]
        path = source / "files" / _safe_relative(name)
        if not path.is_file():
            raise StorageCopyError(f"{name}: missing from the backup")
        with path.open("rb") as fh:
            size, sha256 = _copy(fh)
        if (size, sha256) != (entry["size"], entry["sha256"]):
            raise StorageCopyError(f"{name}: the backup's copy does not match its manifest")
        if storage.exists(name):
            storage.delete(name)
        with path.open("rb") as fh:
            stored = storage.save(name, File(fh, name=PurePosixPath(name).name))
        if stored != name:
            raise StorageCopyError(f"{name}: stored as {stored!r}")
    return len(manifest["files"])


def storage_verify(source: Path, *, storage: Storage = default_storage) -> list[str]:
    """Every file of the manifest read back from ``storage`` and compared; the problems found."""
    problems = []
    for entry in storage_manifest(source)["files"]:
        name = entry["name"]
        if not storage.exists(name):
            problems.append(f"{name}: missing")
            continue
        with storage.open(name, "rb") as fh:
            size, sha256 = _copy(fh)
        if (size, sha256) != (entry["size"], entry["sha256"]):
            problems.append(f"{name}: differs from the backup ({size} bytes, sha256 {sha256[:12]}…)")
    return problems
