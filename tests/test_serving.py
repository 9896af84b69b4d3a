"""bin/serve, the production web server command: it serves the app and refuses an oversize
request head before Python sees it."""

from __future__ import annotations

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


@pytest.fixture
def served():
    port = _free_port()
    env = {
        **os.environ,
        "DOORMAN_ENV": "development",
        "DOORMAN_BIND": f"127.0.0.1:{port}",
        "DOORMAN_WORKERS": "1",
        "DOORMAN_LOG_LEVEL": "WARNING",
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
