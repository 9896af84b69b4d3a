#!/usr/bin/env python
"""Doorman under load while what it depends on fails: issue 13's acceptance run.

    .venv/bin/python bench/faults.py                 # the whole schedule, about two minutes
    .venv/bin/python bench/faults.py --quick         # each fault shorter (a smoke run)
    .venv/bin/python bench/faults.py --schemathesis 8000   # and schemathesis against it meanwhile

Starts its own world: a database `doorman_faults` on the local PostgreSQL (dropped and made
anew), a private redis-server with an append-only file (a crashed production Redis comes back
with its data), and `bin/serve` in production settings. Client threads then request tokens,
call the API with them, introspect, fetch the JWKS, and keep trying tokens that were revoked
(one before the faults, one during each Redis fault), while the schedule below happens:

    warm-up, Redis killed (20 s), Redis back, Redis frozen with SIGSTOP (20 s), Redis thawed,
    PostgreSQL backends terminated three times, 20 slow-body connections held open, recovery.

The run passes when no answer is a 5xx other than a JSON 503 with Retry-After, no request waits
past the client's timeout, no revoked token is ever accepted, and every request of the last
phase succeeds (the service recovered unaided). Figures go to bench/results/faults-*.json.
"""

from __future__ import annotations

import argparse
import base64
import collections
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.redis_kit import PrivateRedis, free_port  # noqa: E402

DATABASE = "doorman_faults"
OAUTH = "/accounts/api/v2/oauth2"
CLIENT_TIMEOUT = 15.0  # a request still waiting after this has hung
PYTHON = str(ROOT / ".venv" / "bin" / "python")


# -- the world ---------------------------------------------------------------------------------
def recreate_database() -> None:
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as db:
        db.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        db.execute(f"CREATE DATABASE {DATABASE}")


def terminate_backends() -> int:
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{DATABASE}", autocommit=True) as db:
        rows = db.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


def manage(env: dict, *args: str) -> str:
    return subprocess.run(  # noqa: S603 - our own manage.py
        [PYTHON, "manage.py", *args], env=env, cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout


def prepare(env: dict) -> dict:
    manage(env, "migrate", "--no-input", "-v", "0")
    manage(env, "collectstatic", "--no-input", "-v", "0")  # as production does (README)
    password = "faults-" + secrets.token_urlsafe(16)
    created = json.loads(
        manage(
            env,
            "bootstrap",
            "--org",
            "Faults",
            "--admin",
            "bench",
            "--password",
            password,
            "--email",
            "bench@example.com",
        )
        .strip()
        .splitlines()[-1]
    )
    fixture_env = {
        **env,
        "BENCH_ADMIN": "bench",
        "BENCH_USER_SCOPES": "openid profile",
        "BENCH_REDIRECT_URI": "http://127.0.0.1/cb",
    }
    script = (ROOT / "bench" / "doorman_fixtures.py").read_text()
    output = manage(fixture_env, "shell", "-c", script)
    line = next(x for x in output.splitlines() if x.startswith("FIXTURES "))
    fixtures = json.loads(line.removeprefix("FIXTURES "))
    return {"org_id": created["org_id"], "cc": fixtures["cc"]}


def serve(env: dict) -> subprocess.Popen:
    server = subprocess.Popen(  # noqa: S603 - our own script
        [str(ROOT / "bin" / "serve")],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=open(ROOT / "var" / "faults-server.log", "w"),  # noqa: SIM115
        start_new_session=True,
    )
    base = "http://" + env["DOORMAN_BIND"]
    for _ in range(300):
        try:
            requests.get(base + "/healthz", timeout=2)
            return server
        except requests.ConnectionError:
            time.sleep(0.1)
    raise SystemExit("bin/serve did not start")


# -- the clients -------------------------------------------------------------------------------
class Record:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.phase = "warm-up"
        self.rows: list[tuple[str, str, int, float, bool]] = []  # phase, op, status, s, ok
        self.revoked: list[str] = []
        self.revoked_accepted: list[tuple[str, str, int]] = []
        self.stop = threading.Event()

    def add(self, op: str, status: int, elapsed: float, ok: bool) -> None:
        with self.lock:
            self.rows.append((self.phase, op, status, elapsed, ok))


def acceptable(response: requests.Response, expected: tuple[int, ...]) -> bool:
    """An expected answer, or a JSON 503 that says when to retry."""
    if response.status_code in expected:
        return True
    return (
        response.status_code == 503
        and response.headers.get("Retry-After", "").isdigit()
        and response.headers.get("Content-Type", "").startswith("application/json")
    )


class Client:
    def __init__(self, base: str, world: dict, record: Record) -> None:
        self.base, self.world, self.record = base, world, record
        self.session = requests.Session()
        cc = world["cc"]
        basic = base64.b64encode(f"{cc['client_id']}:{cc['client_secret']}".encode()).decode()
        self.basic = {"Authorization": f"Basic {basic}"}
        self.token: str | None = None

    def call(self, op: str, method: str, path: str, expected: tuple[int, ...], **kwargs):
        started = time.monotonic()
        try:
            response = self.session.request(
                method, self.base + path, timeout=CLIENT_TIMEOUT, **kwargs
            )
        except requests.Timeout:
            self.record.add(op, -1, time.monotonic() - started, False)  # hung
            return None
        except requests.ConnectionError:
            self.record.add(op, -2, time.monotonic() - started, False)
            self.session = requests.Session()
            return None
        self.record.add(
            op, response.status_code, time.monotonic() - started, acceptable(response, expected)
        )
        return response

    def new_token(self) -> str | None:
        response = self.call(
            "token",
            "POST",
            f"{OAUTH}/token",
            (200,),
            data={"grant_type": "client_credentials"},
            headers=self.basic,
        )
        if response is not None and response.status_code == 200:
            return response.json()["access_token"]
        return None

    def run(self) -> None:
        organization = f"/accounts/api/organizations/{self.world['org_id']}"
        turn = 0
        while not self.record.stop.is_set():
            turn += 1
            token = self.new_token()
            self.token = token or self.token
            if self.token:
                self.call(
                    "bearer",
                    "GET",
                    organization,
                    (200,),
                    headers={"Authorization": f"Bearer {self.token}"},
                )
            for revoked in list(self.record.revoked):
                response = self.call(
                    "revoked-bearer",
                    "GET",
                    organization,
                    (401,),
                    headers={"Authorization": f"Bearer {revoked}"},
                )
                if response is not None and response.status_code == 200:
                    with self.record.lock:
                        self.record.revoked_accepted.append((self.record.phase, "bearer", 200))
                response = self.call(
                    "revoked-introspect",
                    "POST",
                    f"{OAUTH}/introspect",
                    (200,),
                    data={"token": revoked},
                    headers=self.basic,
                )
                if (
                    response is not None
                    and response.status_code == 200
                    and response.json()["active"]
                ):
                    with self.record.lock:
                        self.record.revoked_accepted.append((self.record.phase, "introspect", 200))
            if turn % 5 == 0:
                self.call("jwks", "GET", f"{OAUTH}/jwks", (200,))

    def revoke_one(self) -> str | None:
        """A fresh token, used once (so every worker may remember it), then revoked; kept in
        the list of tokens that must never be accepted again once the revocation answered."""
        token = self.new_token()
        if token is None:
            return None
        organization = f"/accounts/api/organizations/{self.world['org_id']}"
        for _ in range(4):
            self.call(
                "bearer", "GET", organization, (200,), headers={"Authorization": f"Bearer {token}"}
            )
        response = self.call(
            "revoke", "POST", f"{OAUTH}/revoke", (200,), data={"token": token}, headers=self.basic
        )
        if response is not None and response.status_code == 200:
            with self.record.lock:
                self.record.revoked.append(token)
            return token
        return None


class SlowBodies:
    """Keeps `count` connections that announce a body and send a tenth of it, replacing
    each one the server ends; counts how they were ended."""

    def __init__(self, host: str, port: int, count: int) -> None:
        self.host, self.port, self.count = host, port, count
        self.ended = collections.Counter()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._hold, daemon=True) for _ in range(count)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def _hold(self) -> None:
        while not self.stop.is_set():
            try:
                sock = socket.create_connection((self.host, self.port), timeout=5)
            except OSError:
                self.ended["connect-failed"] += 1
                time.sleep(0.5)
                continue
            sock.sendall(
                f"POST {OAUTH}/token HTTP/1.1\r\nHost: {self.host}\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                "Content-Length: 100000\r\n\r\n".encode()
                + b"grant_type=client_credentials&x="
                + b"a" * 10_000
            )
            sock.settimeout(0.5)
            while not self.stop.is_set():
                try:
                    answer = sock.recv(200)
                except TimeoutError:
                    continue
                except OSError:
                    answer = b""
                status = answer.split(b" ")[1].decode() if answer.startswith(b"HTTP/") else "closed"
                self.ended[status] += 1
                break
            sock.close()


# -- the schedule ------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 s faults instead of 20 s")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument(
        "--schemathesis",
        type=int,
        default=0,
        metavar="N",
        help="also run about N schemathesis requests against the server",
    )
    opts = parser.parse_args()
    fault = 5 if opts.quick else 20

    (ROOT / "var").mkdir(exist_ok=True)
    redis_dir = tempfile.mkdtemp(prefix="doorman-faults-redis-")
    redis_server = PrivateRedis(directory=redis_dir)
    redis_server.start()
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
        "DOORMAN_ENV": "production",
        "DOORMAN_SECRET_KEY": "faults-" + secrets.token_urlsafe(32),
        "DOORMAN_BASE_URL": f"http://127.0.0.1:{port}",
        "DOORMAN_BIND": f"127.0.0.1:{port}",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
        "REDIS_URL": redis_server.url,
        "DOORMAN_RATELIMIT_ENABLED": "false",  # one address drives it all
        "DOORMAN_LOG_LEVEL": "WARNING",
    }
    recreate_database()
    world = prepare(env)
    server = serve(env)
    base = f"http://127.0.0.1:{port}"
    record = Record()
    clients = [Client(base, world, record) for _ in range(opts.clients)]
    threads = [threading.Thread(target=c.run, daemon=True) for c in clients]
    helper = Client(base, world, record)
    slow = SlowBodies("127.0.0.1", port, 20)
    schemathesis = None
    started = time.monotonic()
    log = []

    def at(phase: str) -> None:
        record.phase = phase
        log.append((round(time.monotonic() - started, 1), phase))
        print(f"{log[-1][0]:7.1f}s  {phase}", flush=True)

    try:
        at("warm-up")
        helper.revoke_one()
        for thread in threads:
            thread.start()
        if opts.schemathesis:
            schemathesis = start_schemathesis(base, world, opts.schemathesis)
        time.sleep(10)
        at("redis-killed")
        redis_server.kill()
        time.sleep(fault / 4)
        helper.revoke_one()  # a revocation Redis cannot be told of
        time.sleep(fault * 3 / 4)
        at("redis-back")
        redis_server.start()
        time.sleep(10)
        at("redis-frozen")
        redis_server.signal(signal.SIGSTOP)
        time.sleep(fault / 4)
        helper.revoke_one()
        time.sleep(fault * 3 / 4)
        at("redis-thawed")
        redis_server.signal(signal.SIGCONT)
        time.sleep(10)
        at("postgres-terminated")
        for _ in range(3):
            terminate_backends()
            time.sleep(3)
        at("slow-bodies")
        slow.start()
        time.sleep(fault)
        at("recovered")
        time.sleep(10)
    finally:
        record.stop.set()
        slow.stop.set()
        for thread in threads:
            thread.join(timeout=CLIENT_TIMEOUT + 5)
        schemathesis_result = finish_schemathesis(schemathesis)
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        redis_server.signal(signal.SIGCONT)
        redis_server.kill()
        shutil.rmtree(redis_dir, ignore_errors=True)

    return report(record, log, slow, schemathesis_result, opts)


def start_schemathesis(base: str, world: dict, budget: int):
    """schemathesis's CLI against the running server as the robot (its own bearer token)."""
    st = ROOT / ".venv" / "bin" / "schemathesis"
    if not st.exists():
        print("schemathesis is not installed; skipped", flush=True)
        return None
    cc = world["cc"]
    token = requests.post(
        base + f"{OAUTH}/token",
        data={"grant_type": "client_credentials"},
        auth=(cc["client_id"], cc["client_secret"]),
        timeout=10,
    ).json()["access_token"]
    operations = 60  # about as many as the schema has; the budget is spread over them
    command = [
        str(st),
        "run",
        f"{base}/accounts/api/openapi.json",
        "--checks",
        "not_a_server_error,response_schema_conformance,content_type_conformance",
        "--max-examples",
        str(max(budget // operations, 1)),
        "--header",
        f"Authorization: Bearer {token}",
        "--seed",
        "1",
        "--generation-deterministic",
    ]
    output = open(ROOT / "var" / "faults-schemathesis.log", "w")  # noqa: SIM115
    return subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, cwd=ROOT)  # noqa: S603


def finish_schemathesis(process) -> dict | None:
    if process is None:
        return None
    try:
        code = process.wait(timeout=600)
    except subprocess.TimeoutExpired:
        process.kill()
        code = -1
    lines = (ROOT / "var" / "faults-schemathesis.log").read_text().splitlines()
    # Its not_a_server_error counts the 503s the faults are meant to cause (Retry-After, JSON)
    # as failures: the run passes when every server error it met was one of those.
    server_errors = collections.Counter(
        line.strip()[1:4] for line in lines if re.match(r"\s*\[5\d\d\] ", line)
    )
    other = {status: n for status, n in server_errors.items() if status != "503"}
    generated = next((line.strip() for line in lines if re.match(r"\s*\d+ generated", line)), "")
    return {
        "exit": code,
        "test_cases": generated,
        "server_errors": dict(server_errors),
        "passed": code in (0, 1) and not other and bool(generated),
        "summary": lines[-12:],
    }


def report(record: Record, log: list, slow: SlowBodies, schemathesis: dict | None, opts) -> int:
    by_phase: dict[str, dict] = {}
    failures = []
    for phase, op, status, elapsed, ok in record.rows:
        entry = by_phase.setdefault(
            phase, {"requests": 0, "statuses": collections.Counter(), "latencies": []}
        )
        entry["requests"] += 1
        entry["statuses"][f"{op} {status}"] += 1
        entry["latencies"].append(elapsed)
        if not ok:
            failures.append((phase, op, status, round(elapsed, 3)))
    recovered_ok = all(ok for phase, *_rest, ok in record.rows if phase == "recovered")
    summary = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "schedule": log,
        "phases": {
            phase: {
                "requests": entry["requests"],
                "statuses": dict(sorted(entry["statuses"].items())),
                "p50_ms": round(sorted(entry["latencies"])[len(entry["latencies"]) // 2] * 1000, 1),
                "max_ms": round(max(entry["latencies"]) * 1000, 1),
            }
            for phase, entry in by_phase.items()
        },
        "requests": len(record.rows),
        "failures": failures[:50],
        "failure_count": len(failures),
        "server_errors": sum(1 for _p, _o, s, _e, _ok in record.rows if s >= 500 and s != 503),
        "hangs": sum(1 for _p, _o, s, _e, _ok in record.rows if s == -1),
        "revoked_tokens": len(record.revoked),
        "revoked_accepted": record.revoked_accepted,
        "slow_bodies_ended": dict(slow.ended),
        "recovered": recovered_ok,
        "schemathesis": schemathesis,
    }
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    name = results / f"faults-{time.strftime('%Y%m%d-%H%M%S')}.json"
    name.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "phases"}, indent=2))
    for phase, entry in summary["phases"].items():
        print(
            f"{phase:22} {entry['requests']:6} requests  p50 {entry['p50_ms']:7.1f} ms"
            f"  max {entry['max_ms']:8.1f} ms  {entry['statuses']}"
        )
    passed = (
        not failures
        and not record.revoked_accepted
        and recovered_ok
        and len(record.revoked) >= 2
        and (schemathesis is None or schemathesis["passed"])
    )
    print("PASSED" if passed else "FAILED", f"-> {name.relative_to(ROOT)}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
