"""PostgreSQL under faults (issue 13), against the production server (bin/serve, two workers
keeping their connections) on the test's own database: its backends are terminated with
pg_terminate_backend, a table it needs is locked past the statement timeout, and it is pointed
at a database that accepts connections and never answers. Every answer during a fault is a
correct one or a JSON 503 with Retry-After, none waits past its timeout, the service recovers
by itself, and a revoked token is never accepted."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import psycopg
import pytest
import requests
from django.db import connection

from tests.serve_kit import ROOT, Served, own_database_url

TOKEN_PATH = "/accounts/api/v2/oauth2/token"
INTROSPECT_PATH = "/accounts/api/v2/oauth2/introspect"
REVOKE_PATH = "/accounts/api/v2/oauth2/revoke"
STATEMENT_TIMEOUT_MS = 400

pytestmark = [
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith("postgres"),
        reason="PostgreSQL faults need PostgreSQL",
    ),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def served(cc_app):
    server = Served(
        DATABASE_URL=own_database_url(),
        DOORMAN_WORKERS="2",
        DOORMAN_DB_STATEMENT_TIMEOUT=str(STATEMENT_TIMEOUT_MS),
    )
    yield server
    server.stop()


def _terminate_server_backends() -> int:
    """pg_terminate_backend on every connection to this test's database but the test's own."""
    own = connection.connection.info.backend_pid if connection.connection else 0
    with psycopg.connect(own_database_url()) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid() AND pid <> %s",
            (own,),
        ).fetchall()
    return len(rows)


def _token(base: str, app) -> requests.Response:
    return requests.post(
        base + TOKEN_PATH,
        data={"grant_type": "client_credentials"},
        auth=(app.app.client_id, app.client_secret),
        timeout=10,
    )


def _introspect(base: str, app, token: str) -> requests.Response:
    return requests.post(
        base + INTROSPECT_PATH,
        data={"token": token},
        auth=(app.app.client_id, app.client_secret),
        timeout=10,
    )


def _is_retry_later(response: requests.Response) -> bool:
    return (
        response.status_code == 503
        and response.headers.get("Retry-After", "").isdigit()
        and response.headers["Content-Type"].startswith("application/json")
        and response.json()["error"] == "temporarily_unavailable"
    )


def test_terminated_backends_cost_at_most_a_retry_and_recovery_is_unaided(served, cc_app):
    for _ in range(6):  # each worker has a connection of its own now
        assert _token(served.base, cc_app).status_code == 200
    live = _token(served.base, cc_app).json()["access_token"]
    revoked = _token(served.base, cc_app).json()["access_token"]
    assert _introspect(served.base, cc_app, revoked).json()["active"] is True
    assert (
        requests.post(
            served.base + REVOKE_PATH,
            data={"token": revoked},
            auth=(cc_app.app.client_id, cc_app.client_secret),
            timeout=10,
        ).status_code
        == 200
    )

    for _round in range(3):
        assert _terminate_server_backends() >= 1
        answers = []
        for _ in range(8):
            answers += [
                _token(served.base, cc_app),
                _introspect(served.base, cc_app, live),
                _introspect(served.base, cc_app, revoked),
            ]
        assert all(a.status_code == 200 or _is_retry_later(a) for a in answers), [
            (a.status_code, a.text[:200]) for a in answers if a.status_code != 200
        ]
        # A revoked token is never active, whatever the database was doing.
        for answer in answers[2::3]:
            assert answer.status_code == 503 or answer.json() == {"active": False}
        # Recovered: the last round of each kind succeeded.
        assert [a.status_code for a in answers[-3:]] == [200, 200, 200]
        assert answers[-2].json()["active"] is True


def test_portal_and_management_api_answer_503_not_500_then_recover(served, cc_app):
    token = _token(served.base, cc_app).json()["access_token"]
    _terminate_server_backends()
    statuses = set()
    for _ in range(6):
        api = requests.get(
            served.base + "/accounts/api/profile",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        page = requests.get(served.base + "/auth/login/", timeout=10)
        for response in (api, page):
            statuses.add(response.status_code)
            assert response.status_code < 500 or response.status_code == 503
            if response.status_code == 503:
                assert response.headers["Retry-After"].isdigit()
    assert 500 not in statuses
    assert page.status_code == 200


def test_a_locked_table_answers_503_within_the_statement_timeout(served, cc_app):
    assert _token(served.base, cc_app).status_code == 200
    table = cc_app.app._meta.db_table
    with psycopg.connect(own_database_url()) as locker:
        locker.execute(f'LOCK TABLE "{table}" IN ACCESS EXCLUSIVE MODE')  # a migration, say
        started = time.monotonic()
        answer = _token(served.base, cc_app)
        elapsed = time.monotonic() - started
        assert _is_retry_later(answer), (answer.status_code, answer.text[:300])
        assert elapsed < STATEMENT_TIMEOUT_MS / 1000 + 2
        locker.rollback()
    assert _token(served.base, cc_app).status_code == 200


class SilentDatabase:
    """A TCP listener that accepts connections and never says a word (a database host that
    froze, or a firewall that swallows packets after the handshake)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


def test_an_unanswering_database_is_a_prompt_503_and_healthz_stays_up(db):
    """Each connect gives up after DOORMAN_DB_CONNECT_TIMEOUT (2 s here), and after one has
    failed the worker answers at once for DOORMAN_DB_RETRY_SECONDS: one wait per interval."""
    silent = SilentDatabase()
    server = Served(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{silent.port}/nothing",
        DOORMAN_DB_CONNECT_TIMEOUT="2",
        DOORMAN_DB_RETRY_SECONDS="5",
    )
    try:
        started = time.monotonic()
        token = requests.post(
            server.base + TOKEN_PATH,
            data={"grant_type": "client_credentials"},
            auth=("0" * 32, "something"),
            timeout=15,
        )
        assert _is_retry_later(token), (token.status_code, token.text[:300])
        assert time.monotonic() - started < 2 + 1.5
        started = time.monotonic()
        ready = requests.get(server.base + "/readyz", timeout=15)
        assert ready.status_code == 503
        again = requests.post(
            server.base + TOKEN_PATH,
            data={"grant_type": "client_credentials"},
            auth=("0" * 32, "something"),
            timeout=15,
        )
        assert _is_retry_later(again)
        assert time.monotonic() - started < 0.5  # the breaker: nobody waits again yet
        assert requests.get(server.base + "/healthz", timeout=5).status_code == 200
        api = requests.get(server.base + "/accounts/api/profile", timeout=15)
        assert api.status_code in (401, 503)
    finally:
        server.stop()
        silent.close()


def test_a_streamed_audit_csv_the_database_cannot_serve_is_a_503_not_a_cut_200(
    served, make_app, org
):
    """The audit log as CSV streams its rows; a database that is away or stalled when the
    export starts must answer like any other request (a JSON 503 to retry), not a 200 whose
    body ends after the header line, which a client may keep as a complete, empty log."""
    from audit.models import AuditEvent

    auditor = make_app(
        client_name="Auditor",
        grant_types=["client_credentials"],
        redirect_uris=[],
        scopes=[{"scope": "read:audit_logs", "context_params": {"org": str(org.id)}}],
    )
    token = _token(served.base, auditor).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    url = f"{served.base}/accounts/api/organizations/{org.id}/auditLogs?format=csv"
    assert requests.get(url, headers=bearer, timeout=10).status_code == 200
    table = AuditEvent._meta.db_table
    with psycopg.connect(own_database_url()) as locker:
        locker.execute(f'LOCK TABLE "{table}" IN ACCESS EXCLUSIVE MODE')  # a migration, say
        try:
            answer = requests.get(url, headers=bearer, timeout=10)
            body = answer.content
        except requests.exceptions.ChunkedEncodingError as cut:
            pytest.fail(f"a 200 cut short: {cut}")
        finally:
            locker.rollback()
    assert _is_retry_later(answer), (answer.status_code, body[:300])


def test_a_refused_postgres_database_leaves_django_its_fallback(monkeypatch):
    """Creating the test database (and any `_nodb_cursor` use) connects to the `postgres`
    database and, where the server refuses that one (managed services may), falls back to the
    project's own database at once. The connect breaker must not refuse that other database
    because `postgres` failed a moment ago."""
    import warnings

    real_connect = psycopg.connect

    def connect(*args, **kwargs):
        if kwargs.get("dbname") == "postgres":
            raise psycopg.OperationalError('FATAL: permission denied for database "postgres"')
        return real_connect(*args, **kwargs)

    monkeypatch.setattr(psycopg, "connect", connect)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # Django says it falls back
        with connection._nodb_cursor() as cursor:
            cursor.execute("SELECT current_database()")
            assert cursor.fetchone()[0] == connection.settings_dict["NAME"]


@pytest.mark.skipif(
    os.geteuid() != 0 or not Path("/var/run/postgresql/.s.PGSQL.5432").exists(),
    reason="a network namespace of its own (root) and PostgreSQL's Unix socket",
)
def test_a_database_cut_off_mid_connection_is_a_prompt_503_not_a_hang():
    """A partition, a failover or a dead host: the query goes out and nothing comes back,
    not even a reset. PostgreSQL's statement timeout cannot help (the server never sees the
    query), so the client side must give up: a 503 within seconds, not a worker held until
    the kernel drops the connection (about 15 minutes)."""
    import json

    command = ["unshare", "-n", str(ROOT / ".venv/bin/python"), str(ROOT / "tests/pg_partition.py")]
    try:
        run = subprocess.run(  # noqa: S603 - our own script
            [*command, connection.settings_dict["NAME"]],
            capture_output=True,
            text=True,
            timeout=45,
            cwd=ROOT,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("a request waited on a silent database for over 45 s")
    assert run.returncode == 0, run.stderr[-2000:]
    outcome = json.loads(run.stdout.strip().splitlines()[-1])
    assert outcome["before"] == 401  # the database answered: no such client
    assert outcome["after"] == 503
    assert outcome["elapsed"] < 15
