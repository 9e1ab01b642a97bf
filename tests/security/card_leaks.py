"""Where a card number or a CVC could be kept, and how to look for one there.

``database_dump()`` is a real ``pg_dump`` of the whole test database (schema and data), plus the
decoded contents of the tables whose values are encoded (sessions are signed base64 JSON, the
fallback cache holds base64 pickles): a number kept in either would not show in the raw dump.
There is no fallback: the promise is about the PostgreSQL database, so without PostgreSQL or
``pg_dump`` the test cannot prove it; it fails in CI (``CI=true``) and is skipped elsewhere.

``cvc_hits()`` finds a CVC as a number of its own (not inside a longer number, a word, a UUID or a
URL-safe token, so a random key cannot collide with it) and leaves out only what a CVC cannot be:
a key column (``id``, ``…_id``) and the sequence positions ``pg_dump`` writes with ``setval``. The
tests reset the sequences (``reset_sequences=True``) so no id, in a key column or quoted in an
audit event's JSON, reaches the four-digit CVCs they choose (none of which is a plausible year).
Each hit names its table and column so a failure is readable.
"""

from __future__ import annotations

import base64
import os
import pickle
import re
import shutil
import subprocess

import pytest
from django.db import connection


def luhn_complete(prefix: str) -> str:
    """``prefix`` plus the check digit that makes the number pass the Luhn test."""
    total = 0
    for index, char in enumerate(reversed(prefix)):
        digit = int(char)
        if index % 2 == 0:  # every second digit from the right, counting the check digit as position 0
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return prefix + str((10 - total % 10) % 10)


def spellings(number: str) -> list[str]:
    """The number as typed: bare, in groups of four with spaces, with dashes."""
    groups = [number[i : i + 4] for i in range(0, len(number), 4)]
    return [number, " ".join(groups), "-".join(groups)]


def _require_pg_dump() -> str:
    reason = ""
    if connection.vendor != "postgresql":
        reason = "the card-data dump needs PostgreSQL (DATABASE_URL=postgres://…)"
    elif not shutil.which("pg_dump"):
        reason = "pg_dump is not installed (Debian package postgresql-client)"
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI: {reason}")
        pytest.skip(reason)
    return shutil.which("pg_dump")


def database_dump() -> str:
    """Everything the test database holds, as text: the ``pg_dump`` output, then decoded extras."""
    pg_dump = _require_pg_dump()
    settings = connection.settings_dict
    env = {**os.environ, "PGPASSWORD": settings.get("PASSWORD") or ""}
    result = subprocess.run(
        [
            pg_dump,
            "--no-owner",
            "-h",
            settings.get("HOST") or "127.0.0.1",
            "-p",
            str(settings.get("PORT") or 5432),
            "-U",
            settings.get("USER") or "postgres",
            settings["NAME"],
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "COPY public.payments_payment " in result.stdout, "the dump holds no payments table: wrong database?"
    return result.stdout + "\n" + decoded_extras()


def decoded_extras() -> str:
    """Sessions and the fallback cache table, decoded (their stored form is base64)."""
    from django.contrib.sessions.models import Session

    parts = ["-- decoded django_session"]
    parts += [f"{s.session_key}\t{s.get_decoded()!r}" for s in Session.objects.all()]
    parts.append("-- decoded bc_cache_fallback")
    with connection.cursor() as cursor:
        cursor.execute("SELECT cache_key, value FROM bc_cache_fallback")
        for key, value in cursor.fetchall():
            try:
                parts.append(f"{key}\t{pickle.loads(base64.b64decode(value))!r}")
            except Exception:  # noqa: BLE001 - an undecodable row is searched as stored
                parts.append(f"{key}\t{value}")
    return "\n".join(parts)


def _bounded(secret: str) -> re.Pattern:
    # Not inside a longer number, word, UUID or URL-safe token ("4a1c-3846-…", "k_3846x").
    return re.compile(rf"(?<![0-9A-Za-z_-]){re.escape(secret)}(?![0-9A-Za-z_-])")


def number_hits(text: str, number: str) -> list[str]:
    """Every place one of the spellings of ``number`` occurs, with some context."""
    return [
        text[max(0, m.start() - 80) : m.end() + 80]
        for spelling in spellings(number)
        for m in re.finditer(re.escape(spelling), text)
    ]


def cvc_hits(dump: str, cvc: str) -> list[str]:
    """Occurrences of ``cvc`` as a number of its own, less key columns and sequence positions."""
    pattern = _bounded(cvc)
    hits: list[str] = []
    columns: list[str] = []
    table = ""
    for line in dump.splitlines():
        copy = re.match(r"COPY (\S+) \((.*)\) FROM stdin;$", line)
        if copy:
            table, columns = copy.group(1), [c.strip().strip('"') for c in copy.group(2).split(",")]
            continue
        if line == "\\.":
            table, columns = "", []
            continue
        if not pattern.search(line) or line.startswith("SELECT pg_catalog.setval("):
            continue
        if table:
            cells = line.split("\t")
            found = [
                name
                for name, cell in zip(columns, cells, strict=False)
                if pattern.search(cell) and not (name == "id" or name.endswith("_id"))
            ]
            hits += [f"{table}.{name}: {line[:200]}" for name in found]
        else:
            hits.append(line[:200])
    return hits


def log_cvc_hits(text: str, cvc: str) -> list[str]:
    pattern = _bounded(cvc)
    return [line[:200] for line in text.splitlines() if pattern.search(line)]
