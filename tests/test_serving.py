"""bin/serve, the production web server command: it serves the app, refuses an oversize
request head before Python sees it, and adds up its workers' metrics."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def _serving(**extra_env: str):
    """bin/serve on a free port, until the block ends; yields its base URL."""
    port = _free_port()
    env = {
        **os.environ,
        "DOORMAN_ENV": "development",
        "DOORMAN_BIND": f"127.0.0.1:{port}",
        "DOORMAN_WORKERS": "1",
        "DOORMAN_LOG_LEVEL": "WARNING",
        **extra_env,
    }
    server = subprocess.Popen(  # noqa: S603 - our own script
        [str(ROOT / "bin" / "serve")],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/no-such-page", timeout=2)  # noqa: S310
            except urllib.error.HTTPError:
                break  # Django answered
            except OSError:
                time.sleep(0.1)
        yield base
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=10)


@pytest.fixture
def served():
    with _serving() as base:
        yield base


def _status(url: str, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_bin_serve_serves_django_and_refuses_an_oversize_head(served):
    assert _status(served + "/no-such-page", {}) == 404
    assert _status(served + "/no-such-page", {"X-Big": "a" * 70_000}) == 431
    assert _status(served + "/no-such-page", {"X-Fine": "a" * 8_000}) == 404


def test_bin_serve_adds_up_its_workers_metrics(tmp_path):
    """Two workers, one /metrics: prometheus_client's multiprocess mode in a directory that
    bin/serve empties of a previous run's files before the workers start."""
    from prometheus_client.parser import text_string_to_metric_families

    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_1.db").write_bytes(b"a previous run's")  # unreadable if kept
    token = "metrics-token-0123456789"
    env = {
        "DOORMAN_WORKERS": "2",
        "DOORMAN_METRICS_TOKEN": token,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    with _serving(**env) as base:
        sent = 0
        # Until both workers have answered (each connection goes to either).
        while len(list(metrics_dir.glob("histogram_*.db"))) < 2 and sent < 200:
            assert _status(base + "/healthz", {}) == 200
            sent += 1
        request = urllib.request.Request(  # noqa: S310
            base + "/metrics", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            exposition = response.read().decode()
    assert not (metrics_dir / "counter_1.db").exists()
    assert len(list(metrics_dir.glob("histogram_*.db"))) == 2
    healthz = {"endpoint": "/healthz", "method": "GET", "status": "200"}
    counted = [
        sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name == "doorman_http_requests_total" and sample.labels == healthz
    ]
    assert counted == [sent]
