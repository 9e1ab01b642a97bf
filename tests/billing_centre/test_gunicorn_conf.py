"""gunicorn.conf.py for real: gunicorn with two workers on a free loopback port writes JSON logs whose
access line has the duration, the client's address behind the proxy and the request id, and
/metrics sums the workers' counters (prometheus_client's multiprocess mode)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.processes import free_port

BASE_DIR = Path(__file__).resolve().parents[2]
TOKEN = "gunicorn-test-token-0001"


def _get(url: str, headers: dict | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture
def gunicorn(tmp_path):
    port = free_port()
    log_path = tmp_path / "gunicorn.log"
    env = {
        **os.environ,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "2",
        "DJANGO_DEBUG": "1",
        "DJANGO_LOG_FORMAT": "json",
        "BC_TRUSTED_PROXY_COUNT": "1",  # one proxy of ours in front
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
        "BC_METRICS_TOKEN": TOKEN,
        "REDIS_URL": "",
    }
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "billing_centre.wsgi"],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):  # until it listens (at most ~30 s), or it died
            if process.poll() is not None:
                pytest.fail(f"gunicorn exited:\n{log_path.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail(f"gunicorn did not listen:\n{log_path.read_text()}")
        yield base, process, log_path
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _records(log_path: Path) -> list[dict]:
    return [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]


def test_access_log_is_json_with_duration_forwarded_client_ip_and_request_id(gunicorn):
    base, process, log_path = gunicorn

    status, _ = _get(
        f"{base}/no-such-page/?token=secret-in-query",
        {"X-Request-ID": "edge-req-00000001", "X-Forwarded-For": "198.51.100.7"},
    )
    assert status == 404
    process.terminate()
    process.wait(timeout=30)

    records = _records(log_path)
    (access,) = [r for r in records if r["logger"] == "gunicorn.access" and r["request_id"] == "edge-req-00000001"]
    assert (access["method"], access["path"], access["status"]) == ("GET", "/no-such-page/", 404)
    assert isinstance(access["duration_ms"], float)
    assert access["client_ip"] == "198.51.100.7"  # the client, not the proxy
    assert access["remote_addr"] == "127.0.0.1"  # the proxy
    assert "secret-in-query" not in json.dumps(access)
    assert "time" in access and access["level"] == "INFO"
    (line,) = [r for r in records if r["logger"] == "billing_centre.request"]
    assert (line["request_id"], line["client_ip"], line["view"]) == ("edge-req-00000001", "198.51.100.7", "unmatched")
    # gunicorn's own messages are JSON too
    assert any(r["logger"] == "gunicorn.error" and "Booting worker" in r["message"] for r in records)


def test_metrics_sum_the_requests_of_every_worker(gunicorn):
    """One worker is held by a request whose headers are not finished (sync workers serve one
    connection at a time), so the other serves three; then the first finishes its own. A scrape,
    answered by either worker, counts all four: the counters are summed across processes."""
    base, process, log_path = gunicorn
    port = int(base.rsplit(":", 1)[1])
    held = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        held.sendall(b"GET /no-such-page/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n")
        for _ in range(3):
            assert _get(f"{base}/no-such-page/")[0] == 404
        held.sendall(b"\r\n")
        answer = b""
        while chunk := held.recv(65536):
            answer += chunk
    finally:
        held.close()
    assert answer.startswith(b"HTTP/1.1 404")

    status, body = _get(f"{base}/metrics", {"Authorization": f"Bearer {TOKEN}"})

    assert status == 200, log_path.read_text()
    counts = {
        frozenset(sample.labels.items()): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
        if sample.name == "bc_http_request_duration_seconds_count"
    }
    assert counts[frozenset({("view", "unmatched"), ("method", "GET")})] == 4
    assert _get(f"{base}/metrics")[0] == 404  # still closed without the token
