"""Doorman's benchmark: servers started the production way, driven by wrk over loopback.

Started by ``bench/run`` with Doorman's ``.venv/bin/python``. For each target (Doorman, stock
django-oauth-toolkit with hashed and with plain client secrets, node oidc-provider), one at a
time so that they never share the CPU: prepare a fresh database, start the server, mint real
tokens over HTTP, write ``var/bench/<target>/fixtures.json``, run every workload (a warm-up,
then the measured run, both with ``bench/wrk/<workload>.lua``), stop the server. The whole
measuring phase holds an exclusive lock on /tmp/doorman-bench.lock, so two benchmarks on the
machine never overlap.

    bench/run                                   # everything, wrk -t2 -c16 -d15s (3 s warm-up)
    bench/run --targets doorman,dot-unhashed --workloads cc,bearer --duration 3s
    bench/run --soak 10m                        # all five workloads at once against Doorman
"""

# The harness runs fixed local programs (psql, wrk, the servers) and reads its own loopback
# servers; the lock lives in /tmp so that every checkout on the machine shares it.
# ruff: noqa: S108, S310, S603, S607

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import contextlib
import datetime
import fcntl
import hashlib
import http.client
import importlib.metadata
import json
import os
import platform
import re
import runpy
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
VAR = ROOT / "var" / "bench"
WRK_DIR = BENCH / "wrk"
DOT_DIR = BENCH / "peers" / "dot"
DOT_VENV = VAR / "dot-venv"
DOT_PACKAGES = ("Django>=5.2,<5.3", "django-oauth-toolkit==3.4.*", "gunicorn", "psycopg[binary]")
OIDC_DIR = BENCH / "peers" / "oidc-provider"
LOCK_PATH = "/tmp/doorman-bench.lock"
PUBLISHED = BENCH / "results" / "latest.json"
README = ROOT / "README.md"

TARGETS = ("doorman", "dot-unhashed", "dot-hashed", "oidc-provider")
PEERS = TARGETS[1:]
WORKLOADS = ("cc", "bearer", "introspect", "refresh", "code")
PORTS = {"doorman": 8811, "dot-unhashed": 8812, "dot-hashed": 8812, "oidc-provider": 8813}
DEFAULTS = {"threads": 2, "connections": 16, "duration": "15s", "warmup": "3s", "timeout": "10s"}

# oidc-provider's default in-memory adapter is an LRU of 1000 entries: the thousands of tokens
# one workload issues evict the next one's fixtures (tokens, session, grant), so that target
# gets a fresh server and fixtures for each workload.
FRESH_PER_WORKLOAD = ("oidc-provider",)

REDIRECT_URI = "https://client.example/callback"
# RFC 7636 §4.1/§4.2: one fixed verifier and its S256 challenge; the servers still check it.
CODE_VERIFIER = "bench-verifier-" + "x" * 43
CODE_CHALLENGE = (
    base64.urlsafe_b64encode(hashlib.sha256(CODE_VERIFIER.encode()).digest()).rstrip(b"=").decode()
)
DOORMAN_SCOPES = "profile offline_access"
DOT_SCOPES = "read profile"
BEARER_TOKENS = 32
REFRESH_TOKENS = 128  # seeds; the measured run continues the warm-up's rotation chains


class TargetSkipped(Exception):
    """The target cannot run here (say why); not a failure of the run."""


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def run(cmd: list[str], *, env: dict | None = None, cwd: Path = ROOT, quiet: bool = True) -> str:
    """Run a preparation command; its output is returned, and shown only when it fails."""
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd[:4])}… failed ({done.returncode}):\n{done.stdout[-2000:]}"
            f"{done.stderr[-3000:]}"
        )
    if not quiet:
        print(done.stdout, end="")
    return done.stdout


def seconds(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smh]?)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 15s, 2m)")
    return float(match[1]) * {"": 1, "s": 1, "m": 60, "h": 3600}[match[2]]


# ---------------------------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------------------------
class Server:
    """One server process group; stopped on exit whatever happens (see _stop_all)."""

    live: list[Server] = []

    def __init__(self, name: str, cmd: list[str], *, env: dict, cwd: Path, base_url: str):
        self.name, self.base_url = name, base_url
        self.log_path = VAR / name / "server.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_file = self.log_path.open("w")
        self.proc = subprocess.Popen(
            cmd,
            env=env,
            cwd=cwd,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        Server.live.append(self)

    def wait_ready(self, path: str = "/", timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited early; see {self.log_path}")
            try:
                urllib.request.urlopen(self.base_url + path, timeout=2).close()
                return
            except urllib.error.HTTPError:
                return  # an HTTP answer, whatever its status, means it serves
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer within {timeout:.0f}s; see {self.log_path}")

    def worker_pids(self) -> list[int]:
        """The gunicorn master's children (its workers)."""
        pid = self.proc.pid
        try:
            return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:
            return []

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server and its workers."""
        total = 0
        for pid in [self.proc.pid, *self.worker_pids()]:
            with contextlib.suppress(OSError, IndexError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
        return total / os.sysconf("SC_CLK_TCK")

    def wait_idle(self, timeout: float = 120) -> None:
        """Wait until the server has worked off what a finished wrk run left queued (wrk stops
        counting at its deadline, the server does not), so one run never eats into the next."""
        deadline = time.monotonic() + timeout
        before = self.cpu_seconds()
        while time.monotonic() < deadline:
            time.sleep(0.5)
            now = self.cpu_seconds()
            if now - before < 0.05:
                return
            before = now

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        # Workers left behind by a master that died hard share its process group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log_file.close()
        if self in Server.live:
            Server.live.remove(self)


def _stop_all(*_args) -> None:
    for server in list(Server.live):
        server.stop()


def _on_signal(signum, _frame) -> None:
    _stop_all()
    sys.exit(128 + signum)


def foreign_wrk() -> list[str]:
    """Command lines of wrk processes this run did not start: load that ignores the lock."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError, IndexError):
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if Path(cmdline[0].decode()).name == "wrk" and ppid != os.getpid():
                found.append(b" ".join(cmdline).decode(errors="replace").strip())
    return found


def rss_mib(pids: list[int]) -> dict[str, float]:
    sizes = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            status = Path(f"/proc/{pid}/status").read_text()
            kib = int(re.search(r"VmRSS:\s+(\d+)", status)[1])
            sizes[str(pid)] = round(kib / 1024, 1)
    return sizes


# ---------------------------------------------------------------------------------------------
# Shared preparation
# ---------------------------------------------------------------------------------------------
def recreate_database(name: str) -> None:
    psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc"]
    run([*psql, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"])
    run([*psql, f"CREATE DATABASE {name}"])


def gunicorn_settings(env: dict) -> dict[str, Any]:
    """What gunicorn.conf.py sets under `env` (it reads only environment variables)."""
    saved = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(env)
        values = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    keys = ("workers", "worker_class", "threads", "timeout", "max_requests", "keepalive")
    return {k: values[k] for k in keys if k in values and isinstance(values[k], int | str)}


def basic(client: dict) -> str:
    return base64.b64encode(f"{client['client_id']}:{client['client_secret']}".encode()).decode()


def code_flow_tokens(fixtures: dict, count: int) -> list[dict]:
    """`count` token responses, each from a real authorization-code + PKCE flow."""
    base = urllib.parse.urlsplit(fixtures["base_url"])
    code = fixtures["code"]
    redeem = {
        "grant_type": "authorization_code",
        "redirect_uri": code["redirect_uri"],
        "code_verifier": code["code_verifier"],
    }

    def flows(n: int) -> list[dict]:
        conn = http.client.HTTPConnection(base.hostname, base.port, timeout=60)
        out = []
        for _ in range(n):
            conn.request("GET", code["authorize_path"], headers={"Cookie": code["cookie"]})
            response = conn.getresponse()
            response.read()
            location = response.getheader("Location") or ""
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
            if response.status != 302 or "code" not in query:
                raise RuntimeError(f"authorize answered {response.status} {location[:200]}")
            body = urllib.parse.urlencode({**redeem, "code": query["code"][0]})
            headers = {
                "Authorization": f"Basic {code['basic']}",
                "Content-Type": "application/x-www-form-urlencoded",
            }
            conn.request("POST", code["token_path"], body=body, headers=headers)
            response = conn.getresponse()
            data = json.loads(response.read() or b"{}")
            if response.status != 200 or "refresh_token" not in data:
                raise RuntimeError(f"token endpoint answered {response.status} {data}")
            out.append(data)
        conn.close()
        return out

    parallel = 4
    with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
        shares = [count // parallel + (i < count % parallel) for i in range(parallel)]
        return [t for chunk in pool.map(flows, shares) for t in chunk]


def complete_fixtures(fixtures: dict, refresh_count: int) -> dict:
    """Mint the access and refresh tokens the fixtures lack through the code flow."""
    tokens = code_flow_tokens(fixtures, BEARER_TOKENS + refresh_count)
    access = [t["access_token"] for t in tokens[:BEARER_TOKENS]]
    fixtures["bearer"]["tokens"] = access
    fixtures["introspect"]["tokens"] = access
    fixtures["refresh"]["tokens"] = [t["refresh_token"] for t in tokens[BEARER_TOKENS:]]
    return fixtures


def write_fixtures(target: str, fixtures: dict) -> None:
    path = VAR / target / "fixtures.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(fixtures, indent=1))


def authorize_path(prefix: str, client_id: str, scope: str) -> str:
    query = urllib.parse.urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": scope,
            "code_challenge": CODE_CHALLENGE,
            "code_challenge_method": "S256",
            "state": "x",
        }
    )
    return f"{prefix}?{query}"


def fixtures_from(created: dict, *, base_url: str, paths: dict, scope: str) -> dict:
    """The fixtures contract (see bench/README section) from a FIXTURES line's apps."""
    return {
        "base_url": base_url,
        "cc": {
            "path": paths["token"],
            "basic": basic(created["cc"]),
            "body": "grant_type=client_credentials",
        },
        "bearer": {"path": "/accounts/api/profile", "tokens": []},
        "introspect": {"path": paths["introspect"], "basic": basic(created["code"]), "tokens": []},
        "refresh": {"path": paths["token"], "basic": basic(created["code"]), "tokens": []},
        "code": {
            "authorize_path": authorize_path(
                paths["authorize"], created["code"]["client_id"], scope
            ),
            "cookie": created["cookie"],
            "token_path": paths["token"],
            "basic": basic(created["code"]),
            "redirect_uri": REDIRECT_URI,
            "code_verifier": CODE_VERIFIER,
        },
    }


def fixtures_line(output: str) -> dict:
    for line in output.splitlines():
        if line.startswith("FIXTURES "):
            return json.loads(line.removeprefix("FIXTURES "))
    raise RuntimeError(f"no FIXTURES line in:\n{output[-2000:]}")


# ---------------------------------------------------------------------------------------------
# Targets: each returns (running server, fixtures, facts)
# ---------------------------------------------------------------------------------------------
def doorman_env(port: int) -> dict:
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(
        DOORMAN_ENV="production",
        DOORMAN_SECRET_KEY="bench-" + secrets.token_urlsafe(32),
        DOORMAN_BASE_URL=f"http://127.0.0.1:{port}",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/doorman_bench",
        REDIS_URL="redis://127.0.0.1:6379/13",
        DOORMAN_RATELIMIT_ENABLED="false",  # one client from one address: limits would cap it
        DOORMAN_LOG_LEVEL="WARNING",
    )
    return env


def start_doorman(refresh_count: int) -> tuple[Server, dict, dict]:
    port = PORTS["doorman"]
    env = doorman_env(port)
    python = str(ROOT / ".venv" / "bin" / "python")
    recreate_database("doorman_bench")
    run(["redis-cli", "-n", "13", "flushdb"])
    run([python, "manage.py", "migrate", "--no-input", "-v", "0"], env=env)
    password = "bench-" + secrets.token_urlsafe(16)
    run(
        [
            python,
            "manage.py",
            "bootstrap",
            "--org",
            "Bench Org",
            "--admin",
            "bench",
            "--password",
            password,
            "--email",
            "bench@example.com",
        ],
        env=env,
    )
    script = (BENCH / "doorman_fixtures.py").read_text()
    fixture_env = {
        **env,
        "BENCH_ADMIN": "bench",
        "BENCH_USER_SCOPES": DOORMAN_SCOPES,
        "BENCH_REDIRECT_URI": REDIRECT_URI,
    }
    created = fixtures_line(run([python, "manage.py", "shell", "-c", script], env=fixture_env))
    base_url = env["DOORMAN_BASE_URL"]
    server = Server(
        "doorman",
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "-c",
            "gunicorn.conf.py",
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
        ],
        env=env,
        cwd=ROOT,
        base_url=base_url,
    )
    server.wait_ready("/.well-known/openid-configuration")
    oauth = "/accounts/api/v2/oauth2"
    paths = {k: f"{oauth}/{k}" for k in ("token", "introspect", "authorize")}
    fixtures = fixtures_from(created, base_url=base_url, paths=paths, scope=DOORMAN_SCOPES)
    complete_fixtures(fixtures, refresh_count)
    facts = {"gunicorn": gunicorn_settings(env), "scope": DOORMAN_SCOPES}
    return server, fixtures, facts


def ensure_dot_venv() -> None:
    python = DOT_VENV / "bin" / "python"
    probe = "import django, oauth2_provider, gunicorn, psycopg"
    if python.exists() and subprocess.run([python, "-c", probe], check=False).returncode == 0:
        return
    log("installing stock django-oauth-toolkit into var/bench/dot-venv")
    VAR.mkdir(parents=True, exist_ok=True)
    with (VAR / "dot-venv-install.log").open("w") as out:
        steps = [
            ["python3", "-m", "venv", str(DOT_VENV)],
            [str(DOT_VENV / "bin/pip"), "install", "--disable-pip-version-check", *DOT_PACKAGES],
        ]
        for step in steps:
            if subprocess.run(step, stdout=out, stderr=subprocess.STDOUT, check=False).returncode:
                raise RuntimeError("pip install failed; see var/bench/dot-venv-install.log")


def start_dot(target: str, refresh_count: int) -> tuple[Server, dict, dict]:
    ensure_dot_venv()
    port = PORTS[target]
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="dotpeer.settings",
        DOT_SECRET_KEY="bench-" + secrets.token_urlsafe(32),
        DOT_DB_NAME="dot_bench",
        DOORMAN_LOG_LEVEL="WARNING",  # gunicorn.conf.py's log level, same as Doorman's run
    )
    python = str(DOT_VENV / "bin" / "python")
    recreate_database("dot_bench")
    run([python, "manage.py", "migrate", "--no-input", "-v", "0"], env=env, cwd=DOT_DIR)
    fixture_env = {
        **env,
        "BENCH_HASHED": "1" if target == "dot-hashed" else "0",
        "BENCH_REDIRECT_URI": REDIRECT_URI,
    }
    script = (DOT_DIR / "fixtures.py").read_text()
    output = run([python, "manage.py", "shell", "-c", script], env=fixture_env, cwd=DOT_DIR)
    created = fixtures_line(output)
    base_url = f"http://127.0.0.1:{port}"
    server = Server(
        target,
        [
            str(DOT_VENV / "bin/gunicorn"),
            "-c",
            str(ROOT / "gunicorn.conf.py"),
            "--chdir",
            str(DOT_DIR),
            "dotpeer.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
        ],
        env=env,
        cwd=ROOT,
        base_url=base_url,
    )
    server.wait_ready("/o/.well-known/openid-configuration/")
    paths = {"token": "/o/token/", "introspect": "/o/introspect/", "authorize": "/o/authorize/"}
    fixtures = fixtures_from(created, base_url=base_url, paths=paths, scope=DOT_SCOPES)
    complete_fixtures(fixtures, refresh_count)
    probe = (
        "import django, oauth2_provider as dot; from django.contrib.auth.hashers import"
        " PBKDF2PasswordHasher as h; print(django.__version__, dot.__version__, h.iterations)"
    )
    versions = run([python, "-c", probe]).split()
    facts = {
        "gunicorn": gunicorn_settings(env),
        "scope": DOT_SCOPES,
        "hash_client_secret": target == "dot-hashed",
        "django": versions[0],
        "django_oauth_toolkit": versions[1],
        "pbkdf2_iterations": int(versions[2]),
    }
    return server, fixtures, facts


def start_oidc_provider(refresh_count: int) -> tuple[Server, dict, dict]:
    if not (OIDC_DIR / "server.js").exists() or not (OIDC_DIR / "prepare.sh").exists():
        raise TargetSkipped(f"{OIDC_DIR.relative_to(ROOT)}/ has no server.js + prepare.sh yet")
    if not shutil.which("node"):
        raise TargetSkipped("node is not installed")
    port = PORTS["oidc-provider"]
    base_url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "NODE_ENV": "production"}
    # node_modules first: prepare.sh installs them before it waits for the server.
    if not (OIDC_DIR / "node_modules").exists():
        run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=OIDC_DIR)
    server = Server(
        "oidc-provider", ["node", "server.js", str(port)], env=env, cwd=OIDC_DIR, base_url=base_url
    )
    server.wait_ready("/.well-known/openid-configuration")
    path = VAR / "oidc-provider" / "fixtures.json"
    run([str(OIDC_DIR / "prepare.sh"), str(port), str(path)], env=env, cwd=OIDC_DIR)
    fixtures = json.loads(path.read_text())
    if len(fixtures["refresh"]["tokens"]) < refresh_count:
        log(f"oidc-provider: only {len(fixtures['refresh']['tokens'])} refresh tokens")
    version = json.loads((OIDC_DIR / "node_modules/oidc-provider/package.json").read_text())
    node = run(["node", "--version"]).strip()
    return server, fixtures, {"oidc_provider": version["version"], "node": node, "processes": 1}


def start_target(target: str, refresh_count: int) -> tuple[Server, dict, dict]:
    if target == "doorman":
        return start_doorman(refresh_count)
    if target.startswith("dot-"):
        return start_dot(target, refresh_count)
    return start_oidc_provider(refresh_count)


# ---------------------------------------------------------------------------------------------
# wrk
# ---------------------------------------------------------------------------------------------
def wrk_env(workload: str, fixtures: dict, tokens_file: Path | None, threads: int) -> dict:
    fx = fixtures[workload]
    env = {**os.environ, "BENCH_WRK_DIR": str(WRK_DIR), "BENCH_THREADS": str(threads)}
    if tokens_file:
        env["BENCH_TOKENS"] = str(tokens_file)
    if "basic" in fx:
        env["BENCH_BASIC"] = fx["basic"]
    if workload == "cc":
        env["BENCH_BODY"] = fx["body"]
    if workload == "code":
        env.update(
            BENCH_AUTHORIZE_PATH=fx["authorize_path"],
            BENCH_COOKIE=fx["cookie"],
            BENCH_TOKEN_PATH=fx["token_path"],
            BENCH_REDIRECT_URI_ENC=urllib.parse.quote(fx["redirect_uri"], safe=""),
            BENCH_VERIFIER=fx["code_verifier"],
        )
    return env


def tokens_file(target: str, workload: str, fixtures: dict) -> Path | None:
    """The workload's tokens as a file for wrk (one a line), or None if it uses none."""
    if workload not in ("bearer", "introspect", "refresh"):
        return None
    path = VAR / target / f"{workload}-tokens.txt"
    path.write_text("\n".join(fixtures[workload]["tokens"]) + "\n")
    return path


def wrk_command(
    workload: str, fixtures: dict, *, threads: int, connections: int, duration: str, timeout: str
) -> list[str]:
    path = fixtures[workload].get("path", "/")
    return [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}",
        "--timeout",
        timeout,
        "--latency",
        "-s",
        str(WRK_DIR / f"{workload}.lua"),
        fixtures["base_url"] + path,
    ]


def wrk_result(output: str) -> dict:
    for line in output.splitlines():
        if line.startswith("BENCH_RESULT "):
            return json.loads(line.removeprefix("BENCH_RESULT "))
    raise RuntimeError(f"wrk printed no BENCH_RESULT line:\n{output[-2000:]}")


def summarize(result: dict, workload: str) -> dict:
    """Errors are wrk's socket errors, non-2xx/3xx answers and the script's failure counters."""
    counters = result["counters"]
    failures = sum(v for k, v in counters.items() if k != "flows")
    result["errors_total"] = sum(result["errors"].values()) + failures
    if workload == "code":
        result["flows"] = counters.get("flows", 0)
        result["flows_per_s"] = round(result["flows"] / result["duration_s"], 2)
    return result


def measure(target: str, workload: str, fixtures: dict, server: Server, opts) -> dict:
    """A warm-up, then the measured run. Refresh tokens are used up by rotation, so the run
    continues the chains the warm-up left in wrk's queues (refresh.lua writes them out)."""
    tokens = tokens_file(target, workload, fixtures)
    settings = {"threads": opts.threads, "connections": opts.connections, "timeout": opts.timeout}
    phases = [("run", opts.duration)]
    if seconds(opts.warmup) > 0:
        phases.insert(0, ("warmup", opts.warmup))
    for phase, duration in phases:
        cmd = wrk_command(workload, fixtures, duration=duration, **settings)
        env = wrk_env(workload, fixtures, tokens, opts.threads)
        if workload == "refresh" and phase == "warmup":
            env["BENCH_TOKENS_OUT"] = str(VAR / target / "refresh-tokens-after-warmup.txt")
        server.wait_idle()
        others = foreign_wrk()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        others += foreign_wrk()
        (VAR / target / f"{workload}-{phase}.wrk.txt").write_text(done.stdout + done.stderr)
        if done.returncode != 0:
            raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr[-1000:]}")
        if "BENCH_TOKENS_OUT" in env:
            tokens = Path(env["BENCH_TOKENS_OUT"])
            left = len(tokens.read_text().split())
            if left < opts.connections:
                raise RuntimeError(f"only {left} refresh tokens left after the warm-up")
    result = summarize(wrk_result(done.stdout), workload)
    if others:
        log(f"WARNING: other wrk processes ran meanwhile, the figures are disturbed: {others[0]}")
        result["disturbed_by"] = sorted(set(others))
    return result


# ---------------------------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------------------------
def machine_facts() -> dict:
    cpu = ""
    with contextlib.suppress(OSError):
        cpu = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())[1]
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    postgres = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc", "SHOW server_version"],
        capture_output=True,
        text=True,
        check=False,
    )
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "django": importlib.metadata.version("django"),
        "django_oauth_toolkit": importlib.metadata.version("django-oauth-toolkit"),
        "gunicorn": importlib.metadata.version("gunicorn"),
        "postgresql": postgres.stdout.strip(),
        "wrk": (wrk_version.stdout + wrk_version.stderr).splitlines()[0].strip(),
    }


def ratios(targets: dict) -> dict:
    """Doorman's requests/s over each peer's, per workload."""
    out: dict[str, dict[str, float]] = {}
    doorman = targets.get("doorman", {}).get("workloads", {})
    for peer in PEERS:
        theirs = targets.get(peer, {}).get("workloads", {})
        for workload in WORKLOADS:
            mine, other = doorman.get(workload), theirs.get(workload)
            if mine and other and "rps" in mine and other.get("rps"):
                out.setdefault(peer, {})[workload] = round(mine["rps"] / other["rps"], 2)
    return out


def table(results: dict) -> str:
    lines = [
        "| target | workload | req/s | p50 ms | p99 ms | errors | flows/s |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    disturbed = False
    for target, data in results["targets"].items():
        if data["status"] != "ok" and not data.get("workloads"):
            lines.append(
                f"| {target} | {data['status']}: {data.get('reason', '')[:80]} | | | | | |"
            )
            continue
        for workload, r in data["workloads"].items():
            if "rps" not in r:
                lines.append(
                    f"| {target} | {workload} | failed: {r.get('error', '')[:60]} | | | | |"
                )
                continue
            lat = r["latency_ms"]
            flows = f"{r['flows_per_s']:.1f}" if "flows_per_s" in r else ""
            mark = "*" if r.get("disturbed_by") else ""
            disturbed = disturbed or bool(mark)
            lines.append(
                f"| {target} | {workload} | {r['rps']:.1f}{mark} | {lat['p50']:.1f}"
                f" | {lat['p99']:.1f} | {r['errors_total']} | {flows} |"
            )
    if disturbed:
        lines.append("\n\\* another wrk ran meanwhile (it ignored the lock): that figure is low")
    if results.get("ratios"):
        present = [w for w in WORKLOADS if any(w in r for r in results["ratios"].values())]
        lines += ["", "| Doorman req/s ÷ | " + " | ".join(present) + " |"]
        lines.append("|---|" + "---:|" * len(present))
        for peer, by in results["ratios"].items():
            cells = [f"{by[w]:.2f}" if w in by else "" for w in present]
            lines.append(f"| {peer} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def readme_section(results: dict) -> str:
    w = results["wrk"]
    m = results["machine"]
    doorman = results["targets"].get("doorman", {})
    gun = doorman.get("gunicorn", {})
    doorman_scope = doorman.get("scope", DOORMAN_SCOPES)
    return f"""
`bench/run` measures Doorman against stock django-oauth-toolkit and node `oidc-provider`, the
production way: each server alone on the machine (gunicorn with `gunicorn.conf.py` and
PostgreSQL for the Django ones), driven by Debian's `wrk` over loopback after a warm-up. Five
workloads: `cc` (client_credentials, Basic auth), `bearer` (`GET /accounts/api/profile` with a
bearer token; the peer's own protected view, oidc-provider's userinfo), `introspect` (RFC 7662),
`refresh` (rotation: each connection uses the refresh token its last answer returned) and
`code` (authorize with a consented session's cookie → 302 with a code → token with PKCE S256;
flows/s counts the completed flows). `dot-hashed` is DOT's default (client secrets hashed with
Django's PBKDF2 on every client authentication), `dot-unhashed` its `hash_client_secret=False`.

```bash
bench/run                                     # everything: wrk -t2 -c16 -d15s after 3 s warm-up
bench/run --targets doorman --workloads cc,bearer --duration 3s      # a quick partial run
bench/run --soak 10m                          # all five at once on Doorman: errors, worker RSS
```

Results go to `var/bench/results-<time>.json`; a full run also to `bench/results/latest.json`
and this section (partial runs only with `--publish`). Fixtures are real: apps made through each
server's own code, tokens minted by code flows over HTTP. Doorman's user tokens carry
`{doorman_scope}` (no `openid`: DOT's peer runs without OIDC; oidc-provider's code flow does
sign an ID token). oidc-provider is one node process with its default in-memory store, an LRU
of 1000 entries, so it gets a fresh server and fixtures for each workload. `errors` adds wrk's
socket errors, answers other than 2xx/3xx and answers lacking what the workload needs (a token,
a code, `"active": true`).

Last full run: {results["finished_at"]}, {m["nproc"]} cores ({m["cpu"]}), wrk
-t{w["threads"]} -c{w["connections"]} -d{w["duration"]} after a {w["warmup"]} warm-up, Doorman
with {gun.get("workers", "?")} {gun.get("worker_class", "?")} gunicorn workers (the Django peers
the same, from the same `gunicorn.conf.py`):

{table(results)}
"""


def publish_readme(results: dict) -> None:
    text = README.read_text()
    start, end = "<!-- bench:start -->", "<!-- bench:end -->"
    section = f"{start}\n{readme_section(results)}\n{end}"
    if start in text and end in text:
        text = re.sub(
            re.escape(start) + r".*?" + re.escape(end), lambda _: section, text, flags=re.S
        )
    else:
        block = f"## Benchmarks\n\n{section}\n\n"
        text = (
            text.replace("## Layout", block + "## Layout", 1)
            if "## Layout" in text
            else text + "\n" + block
        )
    README.write_text(text)


@contextlib.contextmanager
def bench_lock():
    with open(LOCK_PATH, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"another benchmark holds {LOCK_PATH}; waiting for it")
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# ---------------------------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------------------------
def bench_target(target: str, opts) -> dict:
    log(f"{target}: preparing")
    server = None
    data: dict[str, Any] = {"status": "ok", "workloads": {}}
    try:
        server, fixtures, facts = start_target(target, REFRESH_TOKENS)
        write_fixtures(target, fixtures)
        data.update(facts)
        if server.worker_pids() and target != "oidc-provider":
            data["gunicorn"]["workers_running"] = len(server.worker_pids())
        for i, workload in enumerate(opts.workloads):
            if i and target in FRESH_PER_WORKLOAD:
                server.stop()
                server, fixtures, _ = start_target(target, REFRESH_TOKENS)
                write_fixtures(target, fixtures)
            try:
                result = measure(target, workload, fixtures, server, opts)
            except Exception as error:  # report, go on with the next
                log(f"{target} {workload}: FAILED {error}")
                data["workloads"][workload] = {"error": str(error)[:2000]}
                data["status"] = "failed"
                continue
            data["workloads"][workload] = result
            flows = f", {result['flows_per_s']} flows/s" if "flows_per_s" in result else ""
            lat = result["latency_ms"]
            log(
                f"{target} {workload}: {result['rps']:.1f} req/s, p50 {lat['p50']:.1f} ms,"
                f" p99 {lat['p99']:.1f} ms, errors {result['errors_total']}{flows}"
            )
    except TargetSkipped as why:
        log(f"{target}: skipped, {why}")
        data.update(status="skipped", reason=str(why))
    except Exception as error:  # one failing must not stop the others
        log(f"{target}: FAILED {error}")
        data.update(status="failed", reason=str(error)[:4000])
    finally:
        if server:
            server.stop()
    return data


def bench(opts) -> int:
    results: dict[str, Any] = {
        "kind": "comparison",
        "started_at": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": "bench/run " + " ".join(sys.argv[1:]),
        "machine": machine_facts(),
        "wrk": {
            "threads": opts.threads,
            "connections": opts.connections,
            "duration": opts.duration,
            "warmup": opts.warmup,
            "timeout": opts.timeout,
        },
        "targets": {},
    }
    with bench_lock():
        for target in opts.targets:
            results["targets"][target] = bench_target(target, opts)
    results["finished_at"] = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    results["ratios"] = ratios(results["targets"])
    print()
    print(table(results))
    full = (
        tuple(opts.targets) == TARGETS
        and tuple(opts.workloads) == WORKLOADS
        and all(getattr(opts, k) == v for k, v in DEFAULTS.items())
    )
    save(results, publish=opts.publish or full)
    failed = [t for t, d in results["targets"].items() if d["status"] == "failed"]
    if failed:
        log(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


def save(results: dict, *, publish: bool) -> None:
    stamp = results["started_at"].replace(":", "").replace("-", "")
    path = VAR / f"results-{stamp}.json"
    path.write_text(json.dumps(results, indent=1) + "\n")
    log(f"results in {path.relative_to(ROOT)}")
    if not publish:
        return
    if results["kind"] == "soak":
        published = json.loads(PUBLISHED.read_text()) if PUBLISHED.exists() else {}
        published["soak"] = results["soak"]
        PUBLISHED.write_text(json.dumps(published, indent=1) + "\n")
    else:
        previous = json.loads(PUBLISHED.read_text()) if PUBLISHED.exists() else {}
        if "soak" in previous:
            results["soak"] = previous["soak"]
        PUBLISHED.parent.mkdir(parents=True, exist_ok=True)
        PUBLISHED.write_text(json.dumps(results, indent=1) + "\n")
        publish_readme(results)
    log(
        f"published {PUBLISHED.relative_to(ROOT)}"
        + ("" if results["kind"] == "soak" else " and README.md")
    )


def soak(opts) -> int:
    """All five workloads at once against Doorman for `opts.soak`: errors must stay 0; the
    workers' resident memory at start and end shows any growth."""
    duration = opts.soak
    per = max(1, opts.connections // len(WORKLOADS))
    results: dict[str, Any] = {
        "kind": "soak",
        "started_at": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": "bench/run " + " ".join(sys.argv[1:]),
        "machine": machine_facts(),
    }
    server = None
    with bench_lock():
        try:
            log("doorman: preparing the soak")
            server, fixtures, facts = start_doorman(REFRESH_TOKENS)
            write_fixtures("doorman", fixtures)
            pids_start = server.worker_pids()
            rss_start = rss_mib(pids_start)
            procs = []
            for workload in WORKLOADS:
                tokens = tokens_file("doorman", workload, fixtures)
                cmd = wrk_command(
                    workload,
                    fixtures,
                    threads=1,
                    connections=per,
                    duration=duration,
                    timeout=opts.timeout,
                )
                env = wrk_env(workload, fixtures, tokens, 1)
                out = (VAR / "doorman" / f"soak-{workload}.wrk.txt").open("w")
                procs.append(
                    (
                        workload,
                        subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT),
                        out,
                    )
                )
            log(f"soak: {len(WORKLOADS)} wrk processes x {per} connections for {duration}")
            # The workers' total RSS every few seconds: the first minutes' growth is caches
            # filling and lazy imports; growth after that is what a leak looks like.
            timeline = []
            began = time.monotonic()
            while any(proc.poll() is None for _, proc, _ in procs):
                timeline.append(
                    [round(time.monotonic() - began), sum(rss_mib(server.worker_pids()).values())]
                )
                time.sleep(min(10, max(1, seconds(duration) / 60)))
            by_workload = {}
            for workload, proc, out in procs:
                proc.wait()
                out.close()
                text = (VAR / "doorman" / f"soak-{workload}.wrk.txt").read_text()
                by_workload[workload] = summarize(wrk_result(text), workload)
            pids_end = server.worker_pids()
            rss_end = rss_mib(pids_end)
        finally:
            if server:
                server.stop()
    total_start, total_end = sum(rss_start.values()), sum(rss_end.values())
    warm = next((mib for t, mib in timeline if t >= seconds(duration) / 10), total_start)
    results["soak"] = {
        "duration": duration,
        "connections_per_workload": per,
        "gunicorn": facts["gunicorn"],
        "requests": sum(r["requests"] for r in by_workload.values()),
        "errors": sum(r["errors_total"] for r in by_workload.values()),
        "workloads": by_workload,
        "rss_mib_start": rss_start,
        "rss_mib_end": rss_end,
        "rss_mib_total_start": round(total_start, 1),
        "rss_mib_total_end": round(total_end, 1),
        "rss_mib_growth": round(total_end - total_start, 1),
        # From the first sample a tenth of the way in (caches warm) to the end.
        "rss_mib_growth_after_warmup": round(total_end - warm, 1),
        "rss_mib_timeline": [[t, round(mib, 1)] for t, mib in timeline],
        "workers_restarted": sorted(set(pids_start) ^ set(pids_end)) != [],
    }
    results["finished_at"] = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    s = results["soak"]
    print()
    for workload, r in by_workload.items():
        print(
            f"  {workload:<10} {r['requests']:>9} requests  {r['rps']:8.1f} req/s"
            f"  errors {r['errors_total']}"
        )
    print(
        f"soak {duration}: {s['requests']} requests, {s['errors']} errors; workers' RSS "
        f"{s['rss_mib_total_start']} MiB → {s['rss_mib_total_end']} MiB"
        f" ({s['rss_mib_growth']:+} MiB; {s['rss_mib_growth_after_warmup']:+} MiB after the first"
        " tenth)"
        + (" (workers were recycled by max_requests meanwhile)" if s["workers_restarted"] else "")
    )
    save(results, publish=opts.publish)
    return 1 if s["errors"] else 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    env = os.environ.get
    parser.add_argument("--targets", default=env("BENCH_TARGETS", ",".join(TARGETS)))
    parser.add_argument("--workloads", default=env("BENCH_WORKLOADS", ",".join(WORKLOADS)))
    parser.add_argument(
        "--threads", type=int, default=int(env("BENCH_THREADS", DEFAULTS["threads"]))
    )
    parser.add_argument(
        "--connections", type=int, default=int(env("BENCH_CONNECTIONS", DEFAULTS["connections"]))
    )
    parser.add_argument("--duration", default=env("BENCH_DURATION", DEFAULTS["duration"]))
    parser.add_argument("--warmup", default=env("BENCH_WARMUP", DEFAULTS["warmup"]))
    parser.add_argument(
        "--timeout", default=env("BENCH_TIMEOUT", DEFAULTS["timeout"]), help="wrk --timeout"
    )
    parser.add_argument(
        "--soak", metavar="DURATION", help="mixed load against Doorman only, e.g. 10m"
    )
    parser.add_argument(
        "--publish", action="store_true", help="write bench/results/latest.json + README"
    )
    opts = parser.parse_args()
    opts.targets = [t for t in opts.targets.split(",") if t]
    opts.workloads = [w for w in opts.workloads.split(",") if w]
    for name, valid in (("targets", TARGETS), ("workloads", WORKLOADS)):
        unknown = set(getattr(opts, name)) - set(valid)
        if unknown:
            parser.error(
                f"unknown {name}: {', '.join(sorted(unknown))} (known: {', '.join(valid)})"
            )
    for value in (opts.duration, opts.warmup, opts.timeout, opts.soak or "0"):
        seconds(value)
    if opts.connections < opts.threads:
        parser.error("--connections must be at least --threads")
    VAR.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    try:
        return soak(opts) if opts.soak else bench(opts)
    finally:
        _stop_all()


if __name__ == "__main__":
    sys.exit(main())
