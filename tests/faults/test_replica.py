"""Reads from a streaming replica, and "read your writes" after a write, through the real portal.

A module fixture builds a primary and a streaming standby on this machine: a private PostgreSQL 15
cluster (initdb into /tmp, a free port) with the portal migrated and seeded, then
``pg_basebackup -R -X stream`` of it into a second folder started as a hot standby on another port.
Both are removed afterwards; nothing of the system's clusters or configuration is touched (the
shared cluster on 5432 has no replication entry in pg_hba.conf, and a base backup of it would copy
every developer's databases). The portal runs in gunicorn with DATABASE_URL on the primary and
DATABASE_REPLICA_URL on the standby, so the router and the pin middleware (core/database.py) run
exactly as in production: with the test client both aliases would be one test database (a mirror),
and a read from the "replica" could never be told from a read from the primary.

The proof that a read went to the replica: replay is paused on the standby
(``pg_wal_replay_pause()``), the portal takes a payment, and a client that is not pinned does not see
it (its receipt answers 404), while the client that paid, pinned by its signed cookie, does.
"""

from __future__ import annotations

import shutil
import time

import pytest
import time_machine
from django.core import signing

from core.database import PIN_COOKIE, PIN_SALT
from tests.faults.pgtools import (
    HANBIT,
    PG_BIN,
    Cluster,
    Portal,
    as_postgres,
    default_method,
    manage,
    open_invoices,
    portal_env,
    private_dir,
    server_dsn,
    wait_until,
)

pytestmark = pytest.mark.needs_postgres

PIN_SECONDS = 30
SECRET_KEY = "replica-test-secret-key-not-for-production-0123456789"


def _tools_missing() -> str | None:
    for tool in ("initdb", "pg_ctl", "pg_basebackup"):
        if not (PG_BIN / tool).exists():
            return f"{PG_BIN / tool} is missing (Debian package postgresql-15)"
    return None


def _run(command: list[str]) -> None:
    import subprocess

    result = subprocess.run(as_postgres(command), capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"


@pytest.fixture(scope="module")
def replicated():
    """(primary, standby, portal): the portal reading from a streaming standby of its primary."""
    server_dsn()  # skips without PostgreSQL in the test settings (the suite's own database is not used)
    missing = _tools_missing()
    if missing:
        pytest.skip(missing)
    primary = Cluster(private_dir("bc-primary-"))
    standby = Cluster(private_dir("bc-standby-"))
    workdir = private_dir("bc-replica-portal-")
    portal = None
    try:
        _run([str(PG_BIN / "initdb"), "-D", str(primary.datadir), "-A", "trust", "-U", "postgres", "--no-sync"])
        primary.start()
        with primary.connect() as conn:
            conn.execute('CREATE DATABASE "billing"')
        url = f"postgres://postgres@127.0.0.1:{primary.port}/billing"
        env = portal_env(url, media_root=workdir / "media", DJANGO_SECRET_KEY=SECRET_KEY)
        manage("migrate", "--no-input", env=env)
        manage("seed_demo", env=env)
        _run(
            [
                str(PG_BIN / "pg_basebackup"),
                *("-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"),
                *("-D", str(standby.datadir), "-R", "-X", "stream", "--no-sync", "--checkpoint=fast"),
            ]
        )
        standby.start()
        with standby.connect() as conn:
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0], "the copy runs as a standby"
        env["DATABASE_REPLICA_URL"] = f"postgres://postgres@127.0.0.1:{standby.port}/billing"
        env["BC_REPLICA_PIN_SECONDS"] = str(PIN_SECONDS)
        portal = Portal(env=env, workdir=workdir)
        portal.start()
        yield primary, standby, portal
    finally:
        if portal is not None:
            portal.stop()
        standby.stop()
        primary.stop()
        for path in (primary.datadir, standby.datadir, workdir):
            shutil.rmtree(path, ignore_errors=True)


def caught_up(primary: Cluster, standby: Cluster) -> bool:
    with primary.connect() as conn:
        target = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
    with standby.connect() as conn:
        return conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target]).fetchone()[0]


def replay(standby: Cluster, *, paused: bool) -> None:
    with standby.connect() as conn:
        conn.execute("SELECT pg_wal_replay_pause()" if paused else "SELECT pg_wal_replay_resume()")

    def state_reached() -> bool:
        with standby.connect() as conn:
            state = conn.execute("SELECT pg_get_wal_replay_pause_state()").fetchone()[0]
        return state == "paused" if paused else state == "not paused"

    wait_until(state_reached, timeout=30, message=f"replay {'paused' if paused else 'resumed'} on the standby")


def without_pin(session, portal: Portal, *, pin: str | None = None):
    """A copy of a logged-in browser session (same session cookie) with the pin cookie replaced."""
    import requests

    other = requests.Session()
    for cookie in session.cookies:
        if cookie.name != PIN_COOKIE:
            other.cookies.set(cookie.name, cookie.value)
    if pin is not None:
        other.cookies.set(PIN_COOKIE, pin)
    return other


def signed_pin(*, seconds_ago: float) -> str:
    """The pin cookie as the portal signs it (Django's signed cookie), made ``seconds_ago``."""
    with time_machine.travel(time.time() - seconds_ago, tick=False):
        return signing.get_cookie_signer(salt=PIN_COOKIE + PIN_SALT).sign("1")


def test_reads_go_to_the_replica_and_a_client_that_wrote_reads_the_primary(replicated, settings):
    primary, standby, portal = replicated
    settings.SECRET_KEY = SECRET_KEY  # to sign pin cookies as the portal does
    session = portal.login("hanbit_admin")
    assert PIN_COOKIE in session.cookies, "logging in is a write: the client is pinned to the primary"
    wait_until(lambda: caught_up(primary, standby), timeout=30, message="the standby to catch up")
    with primary.connect("billing") as conn:
        number = open_invoices(conn, company=HANBIT, limit=1)[0]
        method = default_method(conn, company=HANBIT)

    replay(standby, paused=True)
    try:
        # The payment is written on the primary; the standby does not replay it while paused.
        paid = portal.pay(session, number, method_id=method)
        assert paid.status_code == 200 and "/payments/receipts/" in paid.url, (paid.url, paid.text[-2000:])
        receipt = paid.url
        reference = receipt.rstrip("/").rsplit("/", 1)[-1]
        assert reference in paid.text  # the receipt, read right after the write: from the primary

        # The client that paid is pinned (signed cookie): its next pages read the primary.
        history = session.get(f"{portal.url}/payments/history/", timeout=30)
        assert history.status_code == 200 and reference in history.text

        # The same user in a client that did not write (no pin): reads come from the lagging standby.
        fresh = without_pin(session, portal)
        assert fresh.get(receipt, timeout=30).status_code == 404
        history = fresh.get(f"{portal.url}/payments/history/", timeout=30)
        assert history.status_code == 200 and reference not in history.text
        # A pin the client made up (unsigned), or one older than BC_REPLICA_PIN_SECONDS, is no pin.
        assert without_pin(session, portal, pin="1").get(receipt, timeout=30).status_code == 404
        expired = signed_pin(seconds_ago=PIN_SECONDS + 5)
        assert without_pin(session, portal, pin=expired).get(receipt, timeout=30).status_code == 404
        recent = signed_pin(seconds_ago=1)
        assert without_pin(session, portal, pin=recent).get(receipt, timeout=30).status_code == 200
    finally:
        replay(standby, paused=False)

    wait_until(lambda: caught_up(primary, standby), timeout=30, message="the standby to catch up")
    # Replayed: the client that is not pinned sees the payment too, from the standby.
    assert without_pin(session, portal).get(receipt, timeout=30).status_code == 200
