"""The portal through PgBouncer in transaction pooling (BC_DB_POOLER=pgbouncer), for real.

A module fixture puts Debian's `pgbouncer` (pool_mode=transaction, two server connections) in front
of a scratch database, migrates and seeds it *through the pooler*, and serves the portal with
gunicorn (two processes, eight threads each) against it. The tests then drive the portal over HTTP
as browsers do: log in through allauth's form, open the invoice tables, pay through the normal pay
flow with the simulated gateway, download an export; ten clients at once on two server connections;
and PgBouncer killed in the middle of the run and started again.

What transaction pooling breaks, and why the portal survives it: a server connection serves
whichever client has a transaction, so anything kept on a connection between transactions (a
prepared statement, a WITH HOLD cursor, a SET, a session advisory lock) reaches another client or
is missing for its owner. The first test shows that on this very pooler; the settings of
BC_DB_POOLER=pgbouncer (billing_centre/settings.py) turn each of those off.
"""

from __future__ import annotations

import io
import shutil
import zipfile
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import requests

from tests.faults.pgtools import (
    HANBIT,
    PGBOUNCER,
    PgBouncer,
    Portal,
    connect,
    default_method,
    invoice_numbers,
    manage,
    open_invoices,
    portal_env,
    private_dir,
    scratch_database,
    server_dsn,
    wait_until,
)

pytestmark = pytest.mark.needs_postgres

PAGES = ("/", "/invoices/accounts/", "/invoices/plans/", "/payments/history/", "/payments/wallet/")


@pytest.fixture(scope="module")
def stack():
    """(pgbouncer, portal, direct connection) on a scratch database migrated and seeded through PgBouncer."""
    if not PGBOUNCER:
        pytest.skip("pgbouncer is not installed (Debian package pgbouncer; scripts/setup.sh installs it)")
    server = server_dsn()
    workdir = private_dir("bc-pgbouncer-")
    bouncer = portal = None
    try:
        with scratch_database(server) as dbname:
            try:
                bouncer = PgBouncer(server=server, dbname=dbname, workdir=workdir)
                bouncer.start()
                env = portal_env(bouncer.url, media_root=workdir / "media", BC_DB_POOLER="pgbouncer")
                manage("migrate", "--no-input", env=env)
                # migrate stored random_page_cost on the database; the pooler's server connections
                # opened before keep the old value until replaced (docs/operations.md, RECONNECT).
                bouncer.reconnect()
                manage("seed_demo", env=env)
                portal = Portal(env=env, workdir=workdir)
                portal.start()
                with connect(**server, dbname=dbname, autocommit=True) as direct:
                    yield bouncer, portal, direct
            finally:
                if portal is not None:
                    portal.stop()
                if bouncer is not None and bouncer.process is not None:
                    bouncer.process.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def test_the_pool_shares_server_connections_so_prepared_statements_would_collide(stack):
    """The control: on a one-connection pool, two clients that prepare statements (psycopg's
    default after 5 runs; 0 here to make it the first) collide on the one server connection, while
    with preparing off (the pooler settings) they do not. So the pool under test really shares."""
    bouncer, _, _ = stack

    def client(prepare_threshold):
        return connect(port=bouncer.port, dbname="bc_single", autocommit=True, prepare_threshold=prepare_threshold)

    with client(0) as first, client(0) as second:
        first.execute("SELECT count(*) FROM invoices_invoice").fetchone()
        with pytest.raises(psycopg.errors.DuplicatePreparedStatement):
            second.execute("SELECT count(*) FROM invoices_invoice").fetchone()
    with client(None) as first, client(None) as second:
        for _ in range(3):
            assert first.execute("SELECT count(*) FROM invoices_invoice").fetchone()[0] > 0
            assert second.execute("SELECT count(*) FROM invoices_invoice").fetchone()[0] > 0


def test_random_page_cost_reaches_pooled_connections_from_the_database(stack):
    """PgBouncer refuses libpq's start-up `options`; `migrate` stored the cost on the database instead."""
    bouncer, _, _ = stack

    with pytest.raises(psycopg.OperationalError, match="unsupported startup parameter"):
        connect(port=bouncer.port, dbname=bouncer.alias, options="-c random_page_cost=1.1")
    with connect(port=bouncer.port, dbname=bouncer.alias, autocommit=True, prepare_threshold=None) as conn:
        assert conn.execute("SHOW random_page_cost").fetchone()[0] == "1.1"


def test_log_in_browse_pay_and_export_through_the_pooler(stack):
    bouncer, portal, direct = stack
    session = portal.login("hanbit_admin")
    for path in PAGES:
        response = session.get(portal.url + path, timeout=30)
        assert response.status_code == 200, (path, response.status_code, portal.process.log()[-3000:])
    number = open_invoices(direct, company=HANBIT, limit=1)[0]

    detail = session.get(f"{portal.url}/invoices/{number}/", timeout=30)
    assert detail.status_code == 200 and number in detail.text

    paid = portal.pay(session, number, method_id=default_method(direct, company=HANBIT))
    assert paid.status_code == 200 and "/payments/receipts/" in paid.url, (paid.url, paid.text[-2000:])
    status = direct.execute("SELECT status FROM invoices_invoice WHERE number = %s", [number]).fetchone()[0]
    assert status == "paid"

    numbers = invoice_numbers(direct, company=HANBIT, limit=3)
    token = session.cookies["csrftoken"]
    export = session.post(
        f"{portal.url}/invoices/download/",
        data={"csrfmiddlewaretoken": token, "format": "csv", "kind": "account", "invoice": numbers},
        timeout=60,
    )
    assert export.status_code == 200 and export.headers["Content-Type"] == "application/zip", export.text[-2000:]
    with zipfile.ZipFile(io.BytesIO(export.content)) as archive:
        rows = archive.read("invoices.csv").decode("utf-8-sig")
    assert all(number in rows for number in numbers)


def test_ten_clients_at_once_on_two_server_connections(stack):
    """Ten logged-in clients hit pages at once through a pool of two server connections: every
    answer is a page, none an error (no prepared statement, cursor or SET left behind)."""
    bouncer, portal, direct = stack
    numbers = invoice_numbers(direct, company=HANBIT, limit=10)
    sessions = [portal.login("hanbit_admin") for _ in range(10)]

    def browse(index):
        session = sessions[index]
        statuses = []
        for path in (*PAGES, f"/invoices/{numbers[index % len(numbers)]}/", *PAGES):
            statuses.append((path, session.get(portal.url + path, timeout=60).status_code))
        return statuses

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = [status for statuses in pool.map(browse, range(10)) for status in statuses]

    failures = [(path, code) for path, code in results if code != 200]
    assert not failures, f"{failures}\n{portal.process.log()[-3000:]}"
    assert len(results) == 10 * (2 * len(PAGES) + 1)
    log = portal.process.log()
    assert "prepared statement" not in log and "Traceback" not in log, log[-3000:]


def test_the_portal_recovers_when_pgbouncer_is_killed_and_started_again(stack):
    bouncer, portal, direct = stack
    session = portal.login("hanbit_admin")
    assert session.get(f"{portal.url}/invoices/accounts/", timeout=30).status_code == 200

    bouncer.kill()
    # The pooler is gone: a page that needs the database cannot be served (proof the portal's
    # database path runs through this PgBouncer and no connection outlived its request).
    down = session.get(f"{portal.url}/invoices/accounts/", timeout=30)
    assert down.status_code >= 500

    bouncer.start()  # the same port, as a restarted pooler

    def answers() -> bool:
        try:
            return session.get(f"{portal.url}/invoices/accounts/", timeout=30).status_code == 200
        except requests.RequestException:
            return False

    wait_until(answers, timeout=30, message="the portal to answer again after PgBouncer came back")
    number = open_invoices(direct, company=HANBIT, limit=1)[0]
    paid = portal.pay(session, number, method_id=default_method(direct, company=HANBIT))
    assert "/payments/receipts/" in paid.url, paid.text[-2000:]
    status = direct.execute("SELECT status FROM invoices_invoice WHERE number = %s", [number]).fetchone()[0]
    assert status == "paid"
