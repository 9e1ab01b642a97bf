"""``make rehearsal``: the production topology on 127.0.0.1, under load, with a host and a worker killed.

    nginx (TLS, our own process) ─► gunicorn host A ─┐           ┌─► PostgreSQL 127.0.0.1:5432
                                 └► gunicorn host B ─┴► PgBouncer┘   (a fresh database per run)
    Redis (its own server, free port) · moto server as S3 (BC_STORAGE=s3)
    two Celery workers (every queue) · one beat

Each host has its own DJANGO_MEDIA_ROOT, so a file one host (or a worker) wrote can only be read by
the other through the shared object storage. Everything runs with DJANGO_DEBUG=0 and the production
settings; nginx terminates TLS with a throw-away certificate and sends ``X-Forwarded-Proto: https``,
so the HTTPS redirect, secure cookies and CSRF's referer check work as deployed.

The load: N virtual users (threads, one ``requests`` session each, logged in through allauth) browse
the invoice tables, open invoices, download PDFs, pay invoices through the real pay form (offline
gateway, wallet cards or a new test card) and ask for bulk ZIP exports. During it this script
SIGKILLs web host A (its whole process group) and starts it again, and SIGKILLs the worker that is
building an export and starts it again. Then it settles what is left (reconciliation), waits for
the exports, and checks the database: no lost payment, no double charge, no payment left
processing, every export finished and its ZIP served identically by EACH host directly.
Exit status 0 only when every check passes.

Run by scripts/rehearsal.sh (which owns the temporary folder and kills whatever is left);
``--help`` lists the options. docs/operations.md, "The rehearsal", explains the figures.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
PASSWORD = "billing-demo-2026"  # billing_centre.seed.DEMO_PASSWORD
# Virtual users in turn: bench_admin (600 invoices visible, 336 open, no wallet: pays with a new
# test card) and the demo company's users (wallet cards). Several sessions of one user are fine.
USER_CYCLE = ["bench_admin", "hanbit_admin", "bench_admin", "hanbit_payer", "bench_admin", "hanbit_manager"]
PAYERS = {"bench_admin", "hanbit_admin", "hanbit_payer", "hanbit_manager", "seoul_admin", "hanbit_admin2"}
EXPORT_SIZE = 55  # > BULK_SYNC_LIMIT (50): a background job, not a streamed ZIP

NUMBER_RE = re.compile(r'name="invoice" value="([A-Z0-9]+)"')
CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
KEY_RE = re.compile(r'name="idempotency_key" value="([^"]+)"')
METHOD_RE = re.compile(r'type="radio" name="method" value="([^"]+)"')
JOB_RE = re.compile(r"/invoices/exports/([0-9a-f-]{36})/")
RECEIPT_RE = re.compile(r"/payments/receipts/([^/]+)/$")


def say(message: str) -> None:
    print(f"[rehearsal {time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_ports(count: int) -> list[int]:
    sockets, ports = [], []
    for _ in range(count):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
        ports.append(s.getsockname()[1])
    for s in sockets:
        s.close()
    return ports


def wait_port(port: int, seconds: float, name: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{name} did not listen on 127.0.0.1:{port} within {seconds:.0f} s")


class Proc:
    """A child in its own process group (killed as a whole: a "host" is its master and workers)."""

    def __init__(self, run: Run, name: str, argv: list[str], env: dict[str, str] | None = None):
        self.run, self.name, self.argv, self.env = run, name, argv, env
        self.popen: subprocess.Popen | None = None

    def start(self) -> Proc:
        log = open(self.run.dir / "logs" / f"{self.name}.log", "ab")  # noqa: SIM115 - the child keeps it
        self.popen = subprocess.Popen(
            self.argv, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        with open(self.run.dir / "pgids", "a") as pgids:  # scripts/rehearsal.sh kills these on exit
            pgids.write(f"{self.popen.pid}\n")
        return self

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.popen is None or self.popen.poll() is not None and sig != signal.SIGKILL:
            return
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass
        try:
            self.popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None


@dataclass
class Sample:
    start: float  # monotonic
    kind: str
    status: int  # 0: connection error
    seconds: float


@dataclass
class Stats:
    samples: list[Sample] = field(default_factory=list)
    receipts: dict[str, str] = field(default_factory=dict)  # payment reference -> user
    pay_refused: int = 0  # the review refused (invoice paid meanwhile by another session)
    pay_retries: int = 0  # a POST answered 502/connection error, sent again with the same key
    jobs: dict[str, str] = field(default_factory=dict)  # export job id -> user
    zips_at_once: int = 0  # a selection of at most 50 invoices: the ZIP is the answer, no job
    problems: list[str] = field(default_factory=list)
    connection_errors: list[str] = field(default_factory=list)  # the first few, for the report
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, sample: Sample) -> None:
        with self.lock:
            self.samples.append(sample)


class Run:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.dir = Path(args.run_dir).resolve()
        (self.dir / "logs").mkdir(parents=True, exist_ok=True)
        (self.dir / "pgids").touch()
        self.root = os.geteuid() == 0
        (self.nginx_port, self.web_a, self.web_b, self.pgb_port, self.redis_port, self.s3_port) = free_ports(6)
        self.db = f"bc_rehearsal_{os.getpid()}"
        self.pg = args.postgres.rstrip("/")
        self.base = f"https://127.0.0.1:{self.nginx_port}"
        self.cert = self.dir / "nginx" / "cert.pem"  # the throw-away certificate nginx serves
        self.procs: dict[str, Proc] = {}
        self.stats = Stats()
        self.kill_windows: list[tuple[float, float, str]] = []
        self.stop = threading.Event()
        self.export_budget = threading.Semaphore(args.exports)
        self.pay_in_flight = 0  # payment POSTs under way (the host kill waits for some)
        self.worker_killed_job: str | None = None

    # --- environment -------------------------------------------------------------------------

    def env(self, *, direct: bool = False, media: str = "media-worker") -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "BC_", "AWS_"))}
        db_url = f"{self.pg}/{self.db}" if direct else f"postgres://postgres@127.0.0.1:{self.pgb_port}/{self.db}"
        env.update(
            {
                "DJANGO_DEBUG": "0",
                "DJANGO_SECRET_KEY": self.secret,
                "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
                "DJANGO_CSRF_TRUSTED_ORIGINS": self.base,
                "SITE_URL": self.base,
                "DATABASE_URL": db_url,
                "BC_DB_POOLER": "" if direct else "pgbouncer",
                # A libpq start-up option PgBouncer refuses: set on the database instead (ALTER DATABASE).
                "DATABASE_RANDOM_PAGE_COST": "",
                "DJANGO_CONN_MAX_AGE": "0",
                "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
                "BC_STORAGE": self.args.storage,
                "AWS_STORAGE_BUCKET_NAME": "bc-rehearsal",
                "AWS_S3_ENDPOINT_URL": f"http://127.0.0.1:{self.s3_port}",
                "AWS_ACCESS_KEY_ID": "rehearsal",
                "AWS_SECRET_ACCESS_KEY": "rehearsal-secret",
                "AWS_S3_REGION_NAME": "us-east-1",
                "DJANGO_MEDIA_ROOT": str(self.dir / media),
                "DJANGO_STATIC_ROOT": str(self.dir / "staticfiles"),
                "BC_TRUSTED_PROXY_COUNT": "1",
                "EMAIL_URL": "dummymail://",
                "ACCOUNT_EMAIL_VERIFICATION": "none",
                # A killed worker's export is taken over after this lease (production: 120 s), by the
                # sweep beat sends every minute; a payment waits this long "at the bank", so a killed
                # host leaves some of them processing for reconciliation.
                "EXPORT_JOB_LEASE_SECONDS": "20",
                "EXPORT_JOB_REQUEUE_AFTER_SECONDS": "30",
                "SIMULATED_GATEWAY_LATENCY": str(self.args.gateway_latency),
                "DJANGO_LOG_LEVEL": "INFO",
                "PYTHONUNBUFFERED": "1",
                "GUNICORN_WORKERS": str(self.args.gunicorn_workers),
            }
        )
        return env

    def manage(self, *argv: str, direct: bool = True) -> str:
        out = subprocess.run(
            [sys.executable, "manage.py", *argv],
            cwd=ROOT,
            env=self.env(direct=direct),
            capture_output=True,
            text=True,
        )
        if out.returncode:
            raise RuntimeError(f"manage.py {' '.join(argv)} failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")
        return out.stdout

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(f"{self.pg}/{self.db}", autocommit=True) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    # --- the services ------------------------------------------------------------------------

    def start_services(self) -> None:
        self.secret = secrets.token_urlsafe(50)
        say(f"run folder {self.dir}; database {self.db}")
        self.procs["redis"] = Proc(
            self,
            "redis",
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.redis_port), "--save", "", "--appendonly", "no"],
        ).start()
        self.procs["s3"] = Proc(
            self, "s3", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.s3_port)]
        ).start()
        admin = f"{self.pg}/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.db}"')
            conn.execute(f'CREATE DATABASE "{self.db}"')
            # Planner costs for data in memory, server-side (a start-up option cannot pass PgBouncer).
            conn.execute(f'ALTER DATABASE "{self.db}" SET random_page_cost = 1.1')
        wait_port(self.redis_port, 20, "redis-server")
        wait_port(self.s3_port, 30, "moto server")
        self.bucket_create()
        say("migrate, seed_demo, seed_bench, ANALYZE, collectstatic")
        self.manage("migrate", "--no-input", "-v", "0")
        self.manage("seed_demo")
        self.manage("seed_bench", "--invoices", "3000", "--accounts", "30", "-v", "0")
        self.sql("ANALYZE")
        # DJANGO_DEBUG=0 serves static files from the collected manifest (WhiteNoise).
        self.manage("collectstatic", "--no-input", "-v", "0")
        self.pgbouncer_start()
        self.nginx_start()
        for name in ("web-a", "web-b"):
            self.web_start(name)
        for name in ("worker-1", "worker-2"):
            self.worker_start(name)
        self.procs["beat"] = Proc(
            self,
            "beat",
            [str(VENV_BIN / "celery"), "-A", "billing_centre", "beat", "--loglevel=INFO"],
            self.env(),
        ).start()
        for name in ("web-a", "web-b"):
            self.web_ready(name, 90)
        wait_port(self.nginx_port, 20, "nginx")
        say(
            f"up: nginx https://127.0.0.1:{self.nginx_port} -> hosts :{self.web_a} :{self.web_b} -> pgbouncer :{self.pgb_port}"
        )

    def bucket_create(self) -> None:
        import boto3

        s3 = boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{self.s3_port}",
            aws_access_key_id="rehearsal",
            aws_secret_access_key="rehearsal-secret",
            region_name="us-east-1",
        )
        s3.create_bucket(Bucket="bc-rehearsal")

    def pgbouncer_start(self) -> None:
        folder = self.dir / "pgbouncer"
        folder.mkdir(exist_ok=True)
        host_port = self.pg.split("@")[-1]
        host, port = host_port.split(":") if ":" in host_port else (host_port, "5432")
        (folder / "userlist.txt").write_text('"postgres" ""\n')
        (folder / "pgbouncer.ini").write_text(
            f"""[databases]
{self.db} = host={host} port={port} dbname={self.db} user=postgres

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.pgb_port}
unix_socket_dir =
auth_type = trust
auth_file = {folder}/userlist.txt
pool_mode = transaction
max_client_conn = 400
default_pool_size = 20
ignore_startup_parameters = extra_float_digits
server_reset_query =
logfile = {folder}/pgbouncer.log
pidfile = {folder}/pgbouncer.pid
"""
        )
        argv = ["pgbouncer", str(folder / "pgbouncer.ini")]
        if self.root:  # PgBouncer refuses to run as root
            shutil.chown(folder, "postgres")
            for item in folder.iterdir():
                shutil.chown(item, "postgres")
            argv = ["pgbouncer", "-u", "postgres", str(folder / "pgbouncer.ini")]
        self.procs["pgbouncer"] = Proc(self, "pgbouncer", argv).start()
        wait_port(self.pgb_port, 20, "pgbouncer")

    def nginx_start(self) -> None:
        folder = self.dir / "nginx"
        for sub in ("", "tmp"):
            (folder / sub).mkdir(exist_ok=True)
        subprocess.run(
            [
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem"),
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
        user = "user nobody nogroup;" if self.root else ""
        if self.root:
            shutil.chown(folder / "tmp", "nobody", "nogroup")
        (folder / "nginx.conf").write_text(
            f"""{user}
daemon off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    client_body_temp_path {folder}/tmp/body;
    proxy_temp_path {folder}/tmp/proxy;
    fastcgi_temp_path {folder}/tmp/fastcgi;
    uwsgi_temp_path {folder}/tmp/uwsgi;
    scgi_temp_path {folder}/tmp/scgi;
    log_format timed '$remote_addr "$request" $status $request_time upstream=$upstream_addr/$upstream_status rid=$request_id';
    access_log {folder}/access.log timed;
    upstream billing_centre_web {{
        server 127.0.0.1:{self.web_a} max_fails=1 fail_timeout=5s;
        server 127.0.0.1:{self.web_b} max_fails=1 fail_timeout=5s;
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{self.nginx_port} ssl;
        ssl_certificate {folder}/cert.pem;
        ssl_certificate_key {folder}/key.pem;
        client_max_body_size 40m;
        location / {{
            proxy_pass http://billing_centre_web;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto https;
            proxy_set_header X-Request-ID $request_id;
            proxy_next_upstream error timeout;
            proxy_next_upstream_tries 2;
            proxy_connect_timeout 2s;
            proxy_read_timeout 75s;
            proxy_max_temp_file_size 0;
        }}
    }}
}}
"""
        )
        self.procs["nginx"] = Proc(
            self, "nginx", ["nginx", "-p", str(folder), "-c", str(folder / "nginx.conf")]
        ).start()

    def web_start(self, name: str) -> None:
        port = self.web_a if name == "web-a" else self.web_b
        argv = [str(VENV_BIN / "gunicorn"), "billing_centre.wsgi:application", "--bind", f"127.0.0.1:{port}"]
        if (ROOT / "gunicorn.conf.py").is_file():
            argv += ["-c", "gunicorn.conf.py"]
        else:  # until gunicorn.conf.py exists: the same essentials as flags
            argv += ["--workers", str(self.args.gunicorn_workers), "--threads", "4", "--timeout", "60"]
        self.procs[name] = Proc(self, name, argv, self.env(media=f"media-{name}")).start()

    def web_ready(self, name: str, seconds: float) -> None:
        port = self.web_a if name == "web-a" else self.web_b
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz/ready", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if not self.procs[name].alive():
                raise RuntimeError(f"{name} exited: see {self.dir}/logs/{name}.log")
            time.sleep(0.3)
        raise RuntimeError(f"{name} not ready within {seconds:.0f} s: see {self.dir}/logs/{name}.log")

    def worker_start(self, name: str) -> None:
        argv = [
            str(VENV_BIN / "celery"), "-A", "billing_centre", "worker", "-Q", "payments,documents,mail,celery",
            "-n", f"{name}@rehearsal", "--concurrency", "2", "--loglevel=INFO",
        ]  # fmt: skip
        self.procs[name] = Proc(self, name, argv, self.env()).start()

    def stop_all(self) -> None:
        for proc in reversed(list(self.procs.values())):
            proc.kill(signal.SIGTERM)
        if not self.args.keep:
            try:
                with psycopg.connect(f"{self.pg}/postgres", autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
            except psycopg.Error as exc:
                say(f"could not drop {self.db}: {exc}")


# --- the virtual users -----------------------------------------------------------------------


class User(threading.Thread):
    def __init__(self, run: Run, index: int, username: str):
        super().__init__(name=f"vu-{index}-{username}", daemon=True)
        self.rehearsal, self.username = run, username
        self.rng = random.Random(index)
        self.session = requests.Session()
        self.numbers: list[str] = []

    def request(self, kind: str, method: str, path: str, **kwargs) -> requests.Response | None:
        url = path if path.startswith("http") else self.rehearsal.base + path
        headers = kwargs.pop("headers", {})
        headers.setdefault("Referer", url)
        start = time.monotonic()
        try:
            # verify= per request: a session's own setting loses to REQUESTS_CA_BUNDLE in the environment.
            response = self.session.request(
                method, url, headers=headers, timeout=90, verify=str(self.rehearsal.cert), **kwargs
            )
        except requests.RequestException as exc:
            self.rehearsal.stats.add(Sample(start, kind, 0, time.monotonic() - start))
            with self.rehearsal.stats.lock:
                if len(self.rehearsal.stats.connection_errors) < 5:
                    self.rehearsal.stats.connection_errors.append(f"{kind} {path}: {exc!r}"[:300])
            return None
        self.rehearsal.stats.add(Sample(start, kind, response.status_code, time.monotonic() - start))
        return response

    def login(self) -> None:
        for _ in range(10):
            page = self.request("login", "GET", "/accounts/login/")
            if page is not None and page.status_code == 200:
                token = CSRF_RE.search(page.text).group(1)
                done = self.request(
                    "login", "POST", "/accounts/login/",
                    data={"csrfmiddlewaretoken": token, "login": self.username, "password": PASSWORD},
                )  # fmt: skip
                if done is not None and done.status_code == 200 and "/accounts/login/" not in done.url:
                    return
            time.sleep(1)
        raise RuntimeError(f"{self.username} could not log in")

    def run(self) -> None:  # noqa: C901 - one loop of weighted actions
        try:
            self.login()
        except Exception as exc:  # noqa: BLE001
            self.run_problem(f"{self.username}: {exc}")
            return
        actions = [
            (self.browse, 35), (self.detail, 15), (self.pdf, 20), (self.dashboard, 10), (self.pay, 15), (self.export, 5),
        ]  # fmt: skip
        choices, weights = zip(*actions, strict=True)
        while not self.rehearsal.stop.is_set():
            action = self.rng.choices(choices, weights)[0]
            try:
                action()
            except Exception as exc:  # noqa: BLE001 - a client bug must not hide the run's result
                self.run_problem(f"{self.username} {action.__name__}: {exc!r}")
            time.sleep(self.rng.uniform(0, 0.2))

    def run_problem(self, text: str) -> None:
        with self.rehearsal.stats.lock:
            self.rehearsal.stats.problems.append(text)

    def browse(self) -> None:
        page = self.rng.randint(1, 3)
        response = self.request("table", "GET", f"/invoices/accounts/?page={page}&page_size=100")
        if response is not None and response.status_code == 200:
            found = NUMBER_RE.findall(response.text)
            if found:
                self.numbers = found

    def detail(self) -> None:
        if not self.numbers:
            return self.browse()
        self.request("detail", "GET", f"/invoices/{self.rng.choice(self.numbers)}/")

    def pdf(self) -> None:
        if not self.numbers:
            return self.browse()
        response = self.request("pdf", "GET", f"/invoices/{self.rng.choice(self.numbers)}/pdf/")
        if response is not None and response.status_code == 200 and not response.content.startswith(b"%PDF"):
            self.run_problem(f"{self.username}: a PDF download that is not a PDF")

    def dashboard(self) -> None:
        self.request("dashboard", "GET", "/")

    def pay(self) -> None:
        if self.username not in PAYERS:
            return
        pick = self.request("pay", "GET", "/payments/pay/")
        if pick is None or pick.status_code != 200:
            return
        numbers = sorted(set(NUMBER_RE.findall(pick.text)))
        if not numbers:
            return
        number = self.rng.choice(numbers[:20])  # the oldest few: sessions of one company collide on purpose
        review = self.request("pay", "GET", f"/payments/pay/?invoice={number}")
        if review is None or review.status_code != 200 or not KEY_RE.search(review.text):
            return
        key = KEY_RE.search(review.text).group(1)
        token = CSRF_RE.search(review.text).group(1)
        methods = [m for m in METHOD_RE.findall(review.text) if m != "new"]
        data = {"csrfmiddlewaretoken": token, "idempotency_key": key, "invoice": number, "when": "today"}
        if methods:
            data["method"] = methods[0]
        else:
            data.update(
                {
                    "method": "new", "new-kind": "credit_card", "new-holder_name": "리허설",
                    "new-card_number": "4242 4242 4242 4242", "new-exp_month": "12", "new-exp_year": "2031",
                    "new-cvc": "123",
                }
            )  # fmt: skip
        referer = review.url
        for attempt in range(4):
            with self.rehearsal.stats.lock:
                self.rehearsal.pay_in_flight += 1
            try:
                done = self.request("pay-post", "POST", "/payments/pay/", data=data, headers={"Referer": referer})
            finally:
                with self.rehearsal.stats.lock:
                    self.rehearsal.pay_in_flight -= 1
            if done is not None and done.status_code < 500:
                break
            # 502 (its host died with the request) or no answer: the same key again, as a person
            # pressing Pay again would; the key makes it the same payment, never a second charge.
            with self.rehearsal.stats.lock:
                self.rehearsal.stats.pay_retries += 1
            time.sleep(1 + attempt)
        else:
            return
        for _ in range(30):  # the attempt page refreshes itself while the payment is in progress
            match = RECEIPT_RE.search(done.url)
            if match:
                with self.rehearsal.stats.lock:
                    self.rehearsal.stats.receipts[match.group(1)] = self.username
                return
            if "/payments/pay/" in done.url and done.url.rstrip("/").endswith("/payments/pay"):
                with self.rehearsal.stats.lock:
                    self.rehearsal.stats.pay_refused += 1  # shown again with a message: paid meanwhile
                return
            time.sleep(1)
            done = self.request("pay", "GET", done.url)
            if done is None:
                return

    def export(self) -> None:
        if not self.rehearsal.export_budget.acquire(blocking=False):
            return self.browse()
        self.export_now()

    def export_now(self) -> str | None:
        table = self.request("table", "GET", "/invoices/accounts/?page=1&page_size=100")
        if table is None or table.status_code != 200:
            return None
        numbers = NUMBER_RE.findall(table.text)[:EXPORT_SIZE]
        token = CSRF_RE.search(table.text).group(1)
        data = {"csrfmiddlewaretoken": token, "format": "pdf", "kind": "account", "invoice": numbers}
        response = self.request("export", "POST", "/invoices/download/", data=data, headers={"Referer": table.url})
        if response is None:
            return None
        match = JOB_RE.search(response.url)
        if not match and len(numbers) < EXPORT_SIZE and response.status_code == 200:
            # A user who sees fewer invoices selected them all: few enough for the ZIP at once.
            if response.headers.get("Content-Type", "").startswith("application/zip"):
                with self.rehearsal.stats.lock:
                    self.rehearsal.stats.zips_at_once += 1
                return None
        if not match:
            self.run_problem(f"{self.username}: export answered {response.status_code} at {response.url}")
            return None
        with self.rehearsal.stats.lock:
            self.rehearsal.stats.jobs[match.group(1)] = self.username
        return match.group(1)


# --- faults ------------------------------------------------------------------------------------


def faults(run: Run, t0: float) -> None:
    """SIGKILL web host A and bring it back; SIGKILL the worker building an export and bring it back."""
    duration = run.args.duration
    run.stop.wait(max(5.0, duration * 0.2))
    if run.stop.is_set():
        return
    # Aim the kill at payments in flight (nginx alternates hosts, so about half are on host A):
    # their POST gets 502 and is sent again with its key; a charge cut off is reconciled.
    deadline = time.monotonic() + 15
    while run.pay_in_flight < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    killed = time.monotonic()
    say(f"SIGKILL web host A (its whole process group) with {run.pay_in_flight} payment POSTs in flight")
    run.procs["web-a"].kill(signal.SIGKILL)
    run.stop.wait(run.args.down_seconds)
    say("starting web host A again")
    run.web_start("web-a")
    run.web_ready("web-a", 90)
    run.kill_windows.append((killed, time.monotonic() + 2, "web host A killed"))
    say(f"web host A is back after {time.monotonic() - killed:.1f} s")

    # An export of our own, so that one is surely being built when the worker dies.
    exporter = User(run, 999, "hanbit_admin")
    exporter.login()
    job = exporter.export_now()
    if job is None:
        run.stats.problems.append("the fault thread could not start its export")
        return
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        rows = run.sql("SELECT status, done FROM invoices_exportjob WHERE id = %s", (job,))
        if rows and rows[0][0] == "running" and rows[0][1] >= 3:
            break
        time.sleep(0.3)
    else:
        run.stats.problems.append(f"export {job} never started running: worker not killed mid-export")
        return
    victim = export_worker(run, job) or "worker-1"
    done = run.sql("SELECT done, total FROM invoices_exportjob WHERE id = %s", (job,))[0]
    say(f"SIGKILL {victim} while it builds export {job} ({done[0]}/{done[1]} files)")
    run.procs[victim].kill(signal.SIGKILL)
    run.worker_killed_job = job
    run.stop.wait(5)
    say(f"starting {victim} again")
    run.worker_start(victim)


def export_worker(run: Run, job: str) -> str | None:
    """Which worker holds the export's task (celery inspect active), or None."""
    out = subprocess.run(
        [str(VENV_BIN / "celery"), "-A", "billing_centre", "inspect", "active", "--json", "--timeout", "5"],
        cwd=ROOT,
        env=run.env(),
        capture_output=True,
        text=True,
    )
    try:
        replies = json.loads(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None
    for node, tasks in replies.items():
        for task in tasks or []:
            if task.get("name") == "invoices.export_job_run" and job in json.dumps(task.get("args")):
                return node.split("@")[0]
    return None


# --- the report and the checks ---------------------------------------------------------------


def report(run: Run, t0: float, t1: float) -> tuple[list[str], dict]:
    samples = run.stats.samples
    windows = run.kill_windows
    # A request in flight when the host died counts as in the window (it started before the kill).
    in_window = [s for s in samples if any(s.start <= b and s.start + s.seconds >= a for a, b, _ in windows)]
    bad = [s for s in samples if s.status == 0 or s.status >= 500]
    expected = [s for s in bad if s in in_window]
    other = [s for s in bad if s not in in_window]
    unexpected_4xx = [s for s in samples if s.status in (400, 403, 404, 405)]
    latencies = sorted(s.seconds for s in samples if 0 < s.status < 500)
    p50 = statistics.median(latencies) if latencies else 0
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else 0
    seconds = t1 - t0
    figures = {
        "requests": len(samples),
        "seconds": round(seconds, 1),
        "rps": round(len(samples) / seconds, 1),
        "p50_ms": round(p50 * 1000),
        "p99_ms": round(p99 * 1000),
        "errors_kill_window": len(expected),
        "errors_other": len(other),
        "unexpected_4xx": len(unexpected_4xx),
        "by_kind": {},
        "receipts": len(run.stats.receipts),
        "pay_refused": run.stats.pay_refused,
        "pay_retries": run.stats.pay_retries,
        "exports": len(run.stats.jobs),
        "zips_at_once": run.stats.zips_at_once,
    }
    for kind in sorted({s.kind for s in samples}):
        these = sorted(s.seconds for s in samples if s.kind == kind and 0 < s.status < 500)
        figures["by_kind"][kind] = {
            "n": sum(1 for s in samples if s.kind == kind),
            "p50_ms": round(statistics.median(these) * 1000) if these else None,
            "p99_ms": round(these[min(len(these) - 1, int(len(these) * 0.99))] * 1000) if these else None,
        }
    access = run.dir / "nginx" / "access.log"
    log = access.read_text().splitlines() if access.is_file() else []
    # upstream=A, B/502, 200: nginx tried the first host, could not, and passed the request on.
    figures["nginx_passed_on"] = sum(1 for line in log if re.search(r"upstream=\S+, ", line))
    figures["nginx_502"] = sum(1 for line in log if '" 502 ' in line)
    # Tracebacks the hosts and workers logged (an unexpected 5xx leaves one): named in the report.
    tracebacks = {}
    for path in sorted((run.dir / "logs").glob("*.log")):
        count = path.read_text(errors="replace").count("Traceback")
        if count:
            tracebacks[path.stem] = count
    figures["tracebacks"] = tracebacks
    if other:
        (run.dir / "keep").touch()  # scripts/rehearsal.sh keeps the logs to look at
    lines = [
        f"requests {figures['requests']} in {figures['seconds']} s = {figures['rps']} req/s; "
        f"p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms (through nginx, TLS)",
        f"errors (5xx or no answer): {len(expected)} during the kill window, {len(other)} outside it; "
        f"4xx {len(unexpected_4xx)}; nginx passed {figures['nginx_passed_on']} requests on to the other host "
        f"(connection refused/timeout), answered 502 to {figures['nginx_502']}",
        f"payments: {figures['receipts']} receipts seen, {figures['pay_refused']} refused (paid meanwhile), "
        f"{figures['pay_retries']} POSTs sent again after a 502/no answer",
        f"exports: {figures['exports']} background jobs, {figures['zips_at_once']} small selections answered "
        "with the ZIP at once",
        f"tracebacks in the logs: {tracebacks or 'none'} (a SIGKILLed worker's restart logs none; see logs/)",
    ]
    for kind, row in figures["by_kind"].items():
        lines.append(f"  {kind:<10} n={row['n']:<6} p50={row['p50_ms']} ms p99={row['p99_ms']} ms")
    for s in other[:10]:
        lines.append(f"  error outside the window: {s.kind} status {s.status} at +{s.start - t0:.1f} s")
    return lines, figures


def checks(run: Run, t_start_wall: float) -> list[str]:  # noqa: C901 - one list of checks
    failures: list[str] = []
    say("reconciling payments left processing (manage.py reconcile_payments)")
    say("  " + run.manage("reconcile_payments").strip().splitlines()[-1])
    run_payments = "p.created_at >= to_timestamp(%s)"
    lost = run.sql(
        "SELECT c.idempotency_key FROM payments_simulatedcharge c LEFT JOIN payments_payment p "
        "ON p.idempotency_key = c.idempotency_key WHERE c.outcome = 'succeeded' "
        "AND c.created_at >= to_timestamp(%s) AND (p.id IS NULL OR p.status <> 'succeeded')",
        (t_start_wall,),
    )
    if lost:
        failures.append(f"LOST PAYMENT: {len(lost)} charges succeeded at the gateway without a paid payment")
    double = run.sql(
        "SELECT i.number, count(DISTINCT p.id) FROM payments_paymentallocation a "
        "JOIN payments_payment p ON p.id = a.payment_id JOIN invoices_invoice i ON i.id = a.invoice_id "
        f"WHERE p.status = 'succeeded' AND {run_payments} GROUP BY i.number HAVING count(DISTINCT p.id) > 1",
        (t_start_wall,),
    )
    if double:
        failures.append(f"DOUBLE CHARGE: {len(double)} invoices paid twice, e.g. {double[:3]}")
    over = run.sql("SELECT number FROM invoices_invoice WHERE total > 0 AND amount_paid > total")
    if over:
        failures.append(f"OVERPAID: {len(over)} invoices with amount paid above the total, e.g. {over[:3]}")
    stuck = run.sql(
        f"SELECT p.reference, p.status FROM payments_payment p WHERE {run_payments} "
        "AND p.status IN ('pending', 'processing')",
        (t_start_wall,),
    )
    if stuck:
        failures.append(f"STUCK: {len(stuck)} payments still pending/processing after reconciliation: {stuck[:5]}")
    seen = list(run.stats.receipts)
    if seen:
        rows = dict(run.sql("SELECT reference, status FROM payments_payment WHERE reference = ANY(%s)", (seen,)))
        missing = [ref for ref in seen if rows.get(ref) not in ("succeeded", "failed")]
        if missing:
            failures.append(f"RECEIPT WITHOUT SETTLED PAYMENT: {missing[:5]}")
    counts = run.sql(
        f"SELECT p.status, count(*) FROM payments_payment p WHERE {run_payments} GROUP BY 1 ORDER BY 1",
        (t_start_wall,),
    )
    say(f"payments made during the run by status: {dict(counts)}")
    charges = run.sql(
        "SELECT count(*) FROM payments_simulatedcharge WHERE outcome = 'succeeded' AND created_at >= to_timestamp(%s)",
        (t_start_wall,),
    )[0][0]
    say(f"successful charges at the (simulated) gateway during the run: {charges}")

    # Exports: wait for them (a killed worker's job is taken over after its lease), then download.
    jobs = list(run.stats.jobs)
    deadline = time.monotonic() + run.args.drain
    while jobs and time.monotonic() < deadline:
        rows = run.sql("SELECT id::text, status FROM invoices_exportjob WHERE id::text = ANY(%s)", (jobs,))
        if all(status in ("ready", "failed") for _, status in rows) and len(rows) == len(jobs):
            break
        time.sleep(2)
    rows = run.sql(
        "SELECT j.id::text, j.status, j.total, j.attempts, u.username FROM invoices_exportjob j "
        "JOIN accounts_user u ON u.id = j.owner_id WHERE j.id::text = ANY(%s)",
        (jobs,),
    )
    sessions: dict[str, str] = {}
    for job_id, status, total, attempts, username in rows:
        note = " (its worker was SIGKILLed mid-build)" if job_id == run.worker_killed_job else ""
        if status != "ready":
            failures.append(f"UNFINISHED EXPORT {job_id}: {status} after {attempts} attempts{note}")
            continue
        if username not in sessions:
            client = User(run, 500 + len(sessions), username)
            client.login()
            sessions[username] = client.session.cookies.get("sessionid")
        bodies, served = [], []
        for host, port in (("A", run.web_a), ("B", run.web_b)):
            response = requests.get(
                f"http://127.0.0.1:{port}/invoices/exports/{job_id}/download/",
                headers={"Host": f"127.0.0.1:{run.nginx_port}", "X-Forwarded-Proto": "https"},
                cookies={"sessionid": sessions[username]},
                timeout=120,
                allow_redirects=False,
            )
            location = response.headers.get("Location", "")
            if response.status_code == 302 and location.startswith(f"http://127.0.0.1:{run.s3_port}/"):
                # BC_STORAGE_DOWNLOADS=redirect: the host answers with a signed URL of the bucket.
                response = requests.get(location, timeout=120)
            if response.status_code != 200:
                failures.append(f"DOWNLOAD FAILED: export {job_id} on host {host} directly: {response.status_code}")
                continue
            try:
                names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
            except zipfile.BadZipFile:
                failures.append(f"DOWNLOAD FAILED: export {job_id} on host {host}: not a ZIP")
                continue
            if len([n for n in names if n.endswith(".pdf")]) != total:
                failures.append(f"INCOMPLETE ZIP: export {job_id} on host {host}: {len(names)} files, {total} expected")
            bodies.append(response.content)
            served.append(host)
        if len(bodies) == 2 and bodies[0] != bodies[1]:
            failures.append(f"DOWNLOAD DIFFERS: export {job_id} differs between host A and host B")
        where = " and ".join(served) or "neither host"
        say(f"export {job_id} ({username}): {status}, {total} PDFs, {attempts} attempt(s){note}; ZIP from {where}")
    if len(rows) != len(jobs):
        failures.append(f"EXPORTS MISSING: {len(jobs) - len(rows)} jobs the users were sent to are not in the database")
    if not jobs:
        failures.append("NO EXPORT was made during the run")
    if not run.worker_killed_job:
        failures.append("the worker was not killed mid-export (see above)")
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", required=True, help="temporary folder (scripts/rehearsal.sh makes it)")
    parser.add_argument("--duration", type=float, default=90, help="seconds of load (default 90)")
    parser.add_argument("--users", type=int, default=6, help="virtual users (default 6)")
    parser.add_argument("--exports", type=int, default=3, help="bulk exports the users ask for (default 3)")
    parser.add_argument("--down-seconds", type=float, default=8, help="how long host A stays dead (default 8)")
    parser.add_argument("--drain", type=float, default=150, help="seconds to wait for exports after the load")
    parser.add_argument("--gateway-latency", type=float, default=0.3, help="simulated gateway delay (s)")
    parser.add_argument("--gunicorn-workers", type=int, default=2, help="gunicorn workers per host")
    parser.add_argument(
        "--postgres", default=os.environ.get("REHEARSAL_POSTGRES", "postgres://postgres@127.0.0.1:5432")
    )
    parser.add_argument(
        "--storage",
        choices=("s3", "local"),
        default="s3",
        help="s3 (default); local gives each host its own folder: the download checks must then fail",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database (and the run folder)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    run = Run(args)
    started = time.monotonic()
    status = 1
    try:
        run.start_services()
        t_start_wall = time.time() - 1
        users = [User(run, i, USER_CYCLE[i % len(USER_CYCLE)]) for i in range(args.users)]
        say(f"load: {args.users} users for {args.duration:.0f} s ({', '.join(u.username for u in users)})")
        t0 = time.monotonic()
        for user in users:
            user.start()
        fault_thread = threading.Thread(target=faults, args=(run, t0), daemon=True)
        fault_thread.start()
        time.sleep(args.duration)
        run.stop.set()
        t1 = time.monotonic()
        for user in users:
            user.join(timeout=120)
        fault_thread.join(timeout=180)
        lines, figures = report(run, t0, t1)
        for line in lines:
            say(line)
        for problem in run.stats.problems[:20]:
            say(f"client problem: {problem}")
        for error in run.stats.connection_errors:
            say(f"first connection errors: {error}")
        failures = checks(run, t_start_wall)
        figures["failures"] = failures
        figures["total_seconds"] = round(time.monotonic() - started)
        if args.json:
            Path(args.json).write_text(json.dumps(figures, indent=2))
        if failures:
            for failure in failures:
                say(f"FAIL: {failure}")
        else:
            say(
                "PASS: 0 lost payments, 0 double charges, 0 stuck payments, every export finished and served by both hosts"
            )
        status = 1 if failures else 0
    except Exception as exc:  # noqa: BLE001 - report, clean up, fail
        say(f"ERROR: {exc}")
    finally:
        run.stop.set()
        run.stop_all()
        say(
            f"done in {time.monotonic() - started:.0f} s; logs in {run.dir}/logs"
            if args.keep
            else f"done in {time.monotonic() - started:.0f} s"
        )
    return status


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
