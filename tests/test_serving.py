"""bin/serve, the production web server command, over real sockets: it serves the app
(client_credentials tokens through the fast path included), refuses an oversize head before
Python sees it, and no slow or stalled client holds it: a stalled head is dropped after
DOORMAN_HEAD_TIMEOUT, a stalled body answered 408 after DOORMAN_BODY_TIMEOUT, an oversize
body 413 unread, and twenty stalled bodies leave the only worker free for real requests.

One server for the module, with one worker and timeouts of a few seconds, on the test
database (a file copy of it on SQLite) holding one committed client_credentials app, flushed
afterwards as transactional tests are."""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.serve_kit import own_database_url

ROOT = Path(__file__).resolve().parent.parent
HEAD_TIMEOUT = 1
BODY_TIMEOUT = 2
TOKEN_PATH = "/accounts/api/v2/oauth2/token"
JWKS_PATH = "/accounts/api/v2/oauth2/jwks"
FORM = "application/x-www-form-urlencoded"

# The test database must exist (pytest-django makes it only for modules that ask for it).
pytestmark = pytest.mark.django_db


@dataclass
class Served:
    base: str
    port: int
    basic: str  # the client_credentials app's HTTP Basic credentials


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _robot_created() -> dict:
    """An org, its administrator and a client_credentials app, committed; the app's
    credentials."""
    from accounts.access import Access
    from accounts.services import organization_bootstrap
    from connected_apps.services import connected_app_create

    made = organization_bootstrap(
        org_name="Acme", username="alice", password="a-long-password-1", email="a@acme.test"
    )
    org = made.organization
    robot = connected_app_create(
        access=Access(user=made.admin),
        owner=org,
        client_name="Robot",
        grant_types=["client_credentials"],
        scopes=[{"scope": "read:organization", "context_params": {"org": str(org.id)}}],
    )
    return {"client_id": robot.app.client_id, "client_secret": robot.client_secret}


def _database_env(tmp_path: Path) -> dict[str, str]:
    """The server's database: the test database itself on PostgreSQL; on SQLite (in memory
    here) a copy of it in a file."""
    from django.db import connection

    if connection.vendor != "sqlite":
        return {"DATABASE_URL": own_database_url()}
    path = tmp_path / "doorman.sqlite3"
    connection.ensure_connection()
    with sqlite3.connect(path) as copy:
        connection.connection.backup(copy)
    copy.close()
    return {"DATABASE_URL": "", "DOORMAN_SQLITE_PATH": str(path)}


@pytest.fixture(scope="module")
def served(tmp_path_factory, django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        app = _robot_created()
        database = _database_env(tmp_path_factory.mktemp("serve"))
    port = _free_port()
    env = {
        **os.environ,
        **database,
        "DOORMAN_ENV": "development",
        "REDIS_URL": "",
        "DOORMAN_BIND": f"127.0.0.1:{port}",
        "DOORMAN_WORKERS": "1",
        "DOORMAN_THREADS": "1",
        "DOORMAN_HEAD_TIMEOUT": str(HEAD_TIMEOUT),
        "DOORMAN_BODY_TIMEOUT": str(BODY_TIMEOUT),
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
                urllib.request.urlopen(base + "/healthz", timeout=2).close()  # noqa: S310
                break
            except OSError:
                time.sleep(0.1)
        basic = base64.b64encode(f"{app['client_id']}:{app['client_secret']}".encode()).decode()
        yield Served(base, port, basic)
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=10)
        with django_db_blocker.unblock():
            call_command("flush", interactive=False, verbosity=0)  # as transactional tests do


def _request(url: str, *, headers: dict | None = None, data: bytes | None = None):
    """(status, headers, body, seconds taken) of one request; 5 s at most."""
    request = urllib.request.Request(url, data=data, headers=headers or {})  # noqa: S310
    began = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, response.headers, response.read(), time.monotonic() - began
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read(), time.monotonic() - began


def _token(served: Served):
    return _request(
        served.base + TOKEN_PATH,
        headers={"Authorization": f"Basic {served.basic}", "Content-Type": FORM},
        data=b"grant_type=client_credentials",
    )


def _connect(served: Served, timeout: float) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", served.port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _stalled_body(served: Served, path: str = TOKEN_PATH) -> socket.socket:
    """A connection that announced a 100 kB body, sent half of it and stalls."""
    sock = _connect(served, timeout=BODY_TIMEOUT + 5)  # never hangs the test
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {FORM}\r\n"
        "Content-Length: 100000\r\n\r\n"
    )
    sock.sendall(head.encode() + b"x" * 50_000)
    return sock


def _answer(sock: socket.socket) -> tuple[int, dict, bytes]:
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response.status, dict(response.getheaders()), response.read()


def test_bin_serve_serves_django_and_issues_tokens(served):
    status, headers, body, _ = _request(served.base + "/healthz")
    assert (status, json.loads(body)) == (200, {"status": "ok"})
    status, headers, body, _ = _token(served)  # the fast path, its body replayed
    assert status == 200, body
    assert json.loads(body)["token_type"] == "Bearer"
    assert headers["Cache-Control"] == "no-store"
    assert _request(served.base + "/no-such-page")[0] == 404


def test_an_oversize_head_is_refused_before_python(served):
    status, headers, body, _ = _request(served.base + "/healthz", headers={"X-Big": "a" * 70_000})
    assert status == 431
    assert body == b""  # granian answers it itself: no body, no JSON
    assert headers["Connection"] == "close"
    assert _request(served.base + "/healthz", headers={"X-Fine": "a" * 8_000})[0] == 200


def test_a_stalled_body_is_answered_408_json_within_the_timeout(served):
    began = time.monotonic()
    with _stalled_body(served) as sock:
        status, headers, body = _answer(sock)
    assert BODY_TIMEOUT - 0.5 < time.monotonic() - began < BODY_TIMEOUT + 2
    assert status == 408
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {
        "error": "invalid_request",
        "error_description": "The request body did not arrive in time.",
    }


def test_twenty_stalled_bodies_do_not_starve_real_requests(served):
    stalled = [_stalled_body(served) for _ in range(20)]
    try:
        status, _, body, took = _request(served.base + JWKS_PATH)
        assert status == 200, body
        assert "keys" in json.loads(body)
        assert took < 1
        status, _, body, took = _token(served)
        assert status == 200, body
        assert took < 1
        assert [_answer(sock)[0] for sock in stalled] == [408] * 20
    finally:
        for sock in stalled:
            sock.close()


def test_an_oversize_content_length_is_413_json_unread(served):
    began = time.monotonic()
    with _connect(served, timeout=5) as sock:
        sock.sendall(
            b"POST /accounts/api/connectedApplications HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n"
        )
        status, headers, body = _answer(sock)
    assert time.monotonic() - began < 1
    assert status == 413
    assert (headers["content-type"], headers["connection"]) == ("application/json", "close")
    assert json.loads(body) == {
        "error": "request_too_large",
        "message": "The request body is too large.",
    }


def test_a_stalled_head_is_dropped_after_the_head_timeout(served):
    began = time.monotonic()
    with _connect(served, timeout=HEAD_TIMEOUT + 5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and no blank line
        assert sock.recv(1024) == b""  # closed, without an answer
    assert HEAD_TIMEOUT - 0.5 < time.monotonic() - began < HEAD_TIMEOUT + 2
