"""Real PostgreSQL topologies for the pooler and replica tests: PgBouncer, private clusters, and the
portal served by gunicorn against them.

Everything runs on 127.0.0.1 on free ports, in folders under /tmp that are removed afterwards; no
system configuration is read or changed. PostgreSQL and PgBouncer refuse to run as root: as root,
their commands run as the ``postgres`` user (``runuser``) in folders that user owns.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import requests

from tests.processes import free_port, wait_until

BASE_DIR = Path(__file__).resolve().parents[2]
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PGBOUNCER = shutil.which("pgbouncer") or ("/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None)
DEMO_PASSWORD = "billing-demo-2026"  # billing_centre/seed/demo.py


def as_postgres(command: list[str]) -> list[str]:
    """``command`` run as the ``postgres`` user when we are root (PostgreSQL and PgBouncer refuse root)."""
    if os.geteuid() != 0:
        return command
    runuser = shutil.which("runuser")
    if not runuser:
        pytest.skip("running as root without runuser: cannot start PostgreSQL tools as user postgres")
    return [runuser, "-u", "postgres", "--", *command]


def private_dir(prefix: str) -> Path:
    """A folder under /tmp the PostgreSQL tools may write (owned by ``postgres`` when we are root)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")
    return path


def server_dsn() -> dict:
    """Host, port and user of the PostgreSQL the test settings use (DATABASE_URL)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://…")
    db = connection.settings_dict
    return {
        "host": db.get("HOST") or "127.0.0.1",
        "port": int(db.get("PORT") or 5432),
        "user": db.get("USER") or "postgres",
        "password": db.get("PASSWORD") or "",
    }


def connect(*, host="127.0.0.1", port: int, dbname: str, user="postgres", password="", **kwargs):
    return psycopg.connect(
        host=host, port=port, dbname=dbname, user=user, password=password or None, connect_timeout=5, **kwargs
    )


@contextlib.contextmanager
def scratch_database(server: dict):
    """A new empty database on ``server``, dropped afterwards."""
    name = f"bc_scratch_{uuid.uuid4().hex[:10]}"
    with connect(**server, dbname="postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with connect(**server, dbname="postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def portal_env(database_url: str, *, media_root: Path, **extra: str) -> dict:
    """The environment of a portal process: development settings (no TLS, no Redis: Celery runs
    tasks in the web process), the simulated gateway, the given database."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "DATABASE_REPLICA_URL", "REDIS_URL", "BC_DB_POOLER", "CI"}
    }
    env.update(
        {
            "DJANGO_DEBUG": "1",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": database_url,
            "REDIS_URL": "",
            "STRIPE_SECRET_KEY": "",
            "DJANGO_MEDIA_ROOT": str(media_root),
            "DJANGO_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def manage(*args: str, env: dict, timeout: float = 240) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, (
        f"manage.py {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result.stdout


@dataclass
class Process:
    """A server subprocess whose output goes to a log file."""

    command: list[str]
    log_path: Path
    env: dict | None = None
    process: subprocess.Popen | None = None

    def start(self) -> None:
        assert not self.alive(), "already running"
        log = open(self.log_path, "a")  # noqa: SIM115 - kept open by the child
        self.process = subprocess.Popen(
            self.command, cwd=BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL to the whole process group: a crash, nothing cleaned up."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self, timeout: float = 20) -> None:
        if not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class PgBouncer:
    """PgBouncer in transaction pooling on a free port, in front of one database."""

    server: dict
    dbname: str
    workdir: Path
    pool_size: int = 2
    port: int = field(default_factory=free_port)
    process: Process | None = None

    alias = "bc"

    def write_config(self) -> Path:
        ini = self.workdir / "pgbouncer.ini"
        ini.write_text(
            f"""[databases]
{self.alias} = host={self.server["host"]} port={self.server["port"]} dbname={self.dbname} user={self.server["user"]}
bc_single = host={self.server["host"]} port={self.server["port"]} dbname={self.dbname} user={self.server["user"]} pool_size=1

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = any
pool_mode = transaction
default_pool_size = {self.pool_size}
max_client_conn = 500
server_reset_query =
ignore_startup_parameters = extra_float_digits
admin_users = {self.server["user"]}
"""
        )
        if os.geteuid() == 0:
            shutil.chown(ini, "postgres", "postgres")
        return ini

    @property
    def url(self) -> str:
        return f"postgres://{self.server['user']}@127.0.0.1:{self.port}/{self.alias}"

    def start(self) -> None:
        if self.process is None:
            ini = self.write_config()
            self.process = Process(as_postgres([PGBOUNCER, str(ini)]), self.workdir / "pgbouncer.log")
        self.process.start()
        wait_until(self.answers, timeout=20, message=f"pgbouncer on port {self.port}\n{self.process.log()[-2000:]}")

    def answers(self) -> bool:
        try:
            with connect(port=self.port, dbname=self.alias, user=self.server["user"], autocommit=True) as conn:
                return conn.execute("SELECT 1").fetchone() == (1,)
        except psycopg.Error:
            return False

    def kill(self) -> None:
        self.process.kill()

    def reconnect(self) -> None:
        """``RECONNECT`` on the admin console: server connections are replaced as they come free,
        so new ones start with the database's settings (docs/operations.md, after `migrate`)."""
        with connect(port=self.port, dbname="pgbouncer", user=self.server["user"], autocommit=True) as console:
            console.execute("RECONNECT")


@dataclass
class Cluster:
    """A private PostgreSQL 15 cluster in a folder under /tmp, on a free port."""

    datadir: Path
    port: int = field(default_factory=free_port)

    def pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.datadir), *args]),
            capture_output=True,
            text=True,
            timeout=120,
            check=check,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.datadir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.pg_ctl("-o", options, "-l", str(self.datadir / "server.log"), "-w", "start")

    def stop(self) -> None:
        self.pg_ctl("-m", "immediate", "stop", check=False)

    def connect(self, dbname: str = "postgres", **kwargs):
        return connect(port=self.port, dbname=dbname, autocommit=True, **kwargs)


@dataclass
class Portal:
    """The portal served by gunicorn (threads, two processes), as on a production host."""

    env: dict
    workdir: Path
    port: int = field(default_factory=free_port)
    process: Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "billing_centre.wsgi:application",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            "2",
            "--worker-class",
            "gthread",
            "--threads",
            "8",
            "--timeout",
            "60",
        ]
        self.process = Process(command, self.workdir / "gunicorn.log", env=self.env)
        self.process.start()
        wait_until(self.answers, timeout=60, message=f"gunicorn on port {self.port}\n{self.process.log()[-3000:]}")

    def answers(self) -> bool:
        if not self.process.alive():
            pytest.fail(f"gunicorn exited:\n{self.process.log()[-3000:]}")
        try:
            return requests.get(f"{self.url}/accounts/login/", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def login(self, username: str, password: str = DEMO_PASSWORD) -> requests.Session:
        """Log in through allauth's form (with its CSRF token), as a browser does."""
        session = requests.Session()
        page = session.get(f"{self.url}/accounts/login/", timeout=30)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        response = session.post(
            f"{self.url}/accounts/login/",
            data={"csrfmiddlewaretoken": token, "login": username, "password": password},
            timeout=30,
        )
        assert response.status_code == 200 and "/accounts/login/" not in response.url, (
            f"log-in of {username} failed: {response.status_code} {response.url}"
        )
        return session

    def pay(self, session: requests.Session, number: str, *, method_id: int) -> requests.Response:
        """One-time payment of one invoice with a wallet method: review page, then confirm."""
        review = session.get(f"{self.url}/payments/pay/", params={"invoice": number}, timeout=30)
        assert review.status_code == 200, review.text[-2000:]
        key = re.search(r'name="idempotency_key" value="([^"]+)"', review.text).group(1)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', review.text).group(1)
        return session.post(
            f"{self.url}/payments/pay/",
            data={
                "csrfmiddlewaretoken": token,
                "idempotency_key": key,
                "invoice": number,
                "method": str(method_id),
                "when": "today",
            },
            timeout=60,
        )


def open_invoices(conn, *, company: str, limit: int) -> list[str]:
    """Open invoices of ``company``'s 6-character accounts, with no dispute and no payment (scheduled or made)."""
    rows = conn.execute(
        """
        SELECT i.number FROM invoices_invoice i
        JOIN accounts_shippingaccount a ON a.id = i.account_id
        JOIN accounts_company c ON c.id = a.company_id
        WHERE c.name = %s AND i.status = 'open' AND length(a.number) = 6
          AND NOT EXISTS (SELECT 1 FROM disputes_dispute d WHERE d.invoice_id = i.id)
          AND NOT EXISTS (SELECT 1 FROM payments_paymentallocation p WHERE p.invoice_id = i.id)
        ORDER BY i.id LIMIT %s
        """,
        [company, limit],
    ).fetchall()
    return [row[0] for row in rows]


def invoice_numbers(conn, *, company: str, limit: int) -> list[str]:
    """Any invoices of ``company``'s accounts (for pages and exports)."""
    rows = conn.execute(
        """
        SELECT i.number FROM invoices_invoice i
        JOIN accounts_shippingaccount a ON a.id = i.account_id
        JOIN accounts_company c ON c.id = a.company_id
        WHERE c.name = %s ORDER BY i.id DESC LIMIT %s
        """,
        [company, limit],
    ).fetchall()
    return [row[0] for row in rows]


def default_method(conn, *, company: str) -> int:
    return conn.execute(
        """
        SELECT m.id FROM payments_paymentmethod m JOIN accounts_company c ON c.id = m.company_id
        WHERE c.name = %s AND m.is_default
        """,
        [company],
    ).fetchone()[0]


HANBIT = "한빛물산 주식회사"  # the seeded company of hanbit_admin (billing_centre/seed/demo.py)
