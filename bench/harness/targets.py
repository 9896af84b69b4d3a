"""Each target's preparation: a fresh database, the server, real fixtures.

Whatever the target, its fixtures end up in var/bench/<target>/fixtures.json, the only thing
the workloads read (oidc-provider's prepare.sh writes the same shape):

    {"base_url": "http://127.0.0.1:PORT",
     "cc": {"path": …, "basic": "<base64 id:secret>", "body": "grant_type=client_credentials"},
     "bearer": {"path": "/accounts/api/profile", "tokens": [<access token>, …]},
     "introspect": {"path": …, "basic": …, "tokens": […]},
     "refresh": {"path": …, "basic": …, "tokens": [<refresh token>, … at least 64]},
     "code": {"authorize_path": "/authorize?…&code_challenge=…&code_challenge_method=S256",
              "cookie": "name=value", "token_path": …, "basic": …, "redirect_uri": …,
              "code_verifier": …}}
"""

# It runs fixed local programs (psql, wrk, the servers) and opens only its own loopback servers.
# ruff: noqa: S603

from __future__ import annotations

import base64
import concurrent.futures
import http.client
import json
import os
import runpy
import secrets
import shutil
import subprocess
import urllib.parse
from pathlib import Path
from typing import Any

from harness.common import (
    BEARER_TOKENS,
    BENCH,
    CODE_CHALLENGE,
    CODE_VERIFIER,
    DOORMAN_SCOPES,
    DOT_DIR,
    DOT_PACKAGES,
    DOT_SCOPES,
    DOT_VENV,
    FLOOR_DIR,
    OIDC_DIR,
    PORTS,
    REDIRECT_URI,
    ROOT,
    VAR,
    TargetSkipped,
    log,
    run,
)
from harness.servers import (
    Server,
)


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
    """The fixtures contract (see the module docstring) from a FIXTURES line's apps."""
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
PROFILE_ENV = (
    "DOORMAN_ENV",
    "DOORMAN_SECRET_KEY",
    "DOORMAN_BASE_URL",
    "DATABASE_URL",
    "REDIS_URL",
    "DOORMAN_RATELIMIT_ENABLED",
    "DOORMAN_LOG_LEVEL",
)


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


def start_doorman(refresh_count: int, extra_env: dict | None = None) -> tuple[Server, dict, dict]:
    port = PORTS["doorman"]
    env = {**doorman_env(port), **(extra_env or {})}
    python = str(ROOT / ".venv" / "bin" / "python")
    # What bench/profile needs to replay the fixtures in-process (the secret key signs the
    # session and keys the client secrets' digests): this run's throwaway settings.
    settings_file = VAR / "doorman" / "server-env.json"
    settings_file.parent.mkdir(parents=True, exist_ok=True)
    settings_file.write_text(json.dumps({name: env[name] for name in PROFILE_ENV}))
    settings_file.chmod(0o600)
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
        server_command(ROOT / ".venv/bin", "config", port, env),
        env=env,
        cwd=ROOT,
        base_url=base_url,
    )
    server.wait_ready("/.well-known/openid-configuration")
    oauth = "/accounts/api/v2/oauth2"
    paths = {k: f"{oauth}/{k}" for k in ("token", "introspect", "authorize")}
    fixtures = fixtures_from(created, base_url=base_url, paths=paths, scope=DOORMAN_SCOPES)
    complete_fixtures(fixtures, refresh_count)
    facts = {"serving": serving_facts(env, doorman=True), "scope": DOORMAN_SCOPES}
    return server, fixtures, facts


def serving(env: dict) -> str:
    return os.environ.get("BENCH_SERVER", "granian")


def serving_facts(env: dict, *, doorman: bool = False) -> dict[str, Any]:
    """How the Django targets are served in this run: Doorman by bin/serve's ASGI front,
    the peers by granian's WSGI server, with the same number of workers."""
    if serving(env) == "gunicorn":
        return {"server": "gunicorn", **gunicorn_settings(env)}
    workers = int(env.get("DOORMAN_WORKERS") or (os.cpu_count() or 1) + 1)  # bin/serve's
    threads = int(env.get("DOORMAN_THREADS") or 2)  # config/asgi.py's
    return {
        "server": "granian",
        "workers": workers,
        "worker_class": f"granian asgi, config/asgi.py, {threads} thread(s)"
        if doorman
        else "granian wsgi",
        "max_requests": 0,
    }


def server_command(
    bin_dir: Path, package: str, port: int, env: dict, chdir: Path | None = None
) -> list[str]:
    """How a Django target is served: bin/serve (granian), Doorman's production command, or
    (with BENCH_SERVER=gunicorn) gunicorn with the project's gunicorn.conf.py. `package`
    holds the target's wsgi.py; `env` gains what bin/serve reads. Doorman is served the way
    bin/serve serves it (its ASGI front); a peer as the plain WSGI application it is."""
    if serving(env) == "gunicorn":
        command = [str(bin_dir / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py")]
        if chdir is not None:
            command += ["--chdir", str(chdir)]
        return [*command, f"{package}.wsgi", "--bind", f"127.0.0.1:{port}"]
    env["DOORMAN_BIND"] = f"127.0.0.1:{port}"
    env["DOORMAN_GRANIAN"] = str(bin_dir / "granian")
    if chdir is not None:
        env["DOORMAN_SERVE_DIR"] = str(chdir)
    if package == "config":
        return [str(ROOT / "bin" / "serve")]
    return [str(ROOT / "bin" / "serve"), "--wsgi", f"{package}.wsgi:application"]


def ensure_dot_venv() -> None:
    python = DOT_VENV / "bin" / "python"
    probe = "import django, oauth2_provider, gunicorn, granian, psycopg"
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
        server_command(DOT_VENV / "bin", "dotpeer", port, env, chdir=DOT_DIR),
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
        "serving": serving_facts(env),
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


def start_floor(refresh_count: int) -> tuple[Server, dict, dict]:
    """bench/peers/floor: Doorman's serving shape, one `SELECT 1` per request, nothing else."""
    port = PORTS["floor"]
    env = doorman_env(port)
    env["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/floor_bench"
    env["DOORMAN_SERVE_DIR"] = str(FLOOR_DIR)
    recreate_database("floor_bench")
    base_url = f"http://127.0.0.1:{port}"
    command = server_command(ROOT / ".venv/bin", "config", port, env)
    server = Server(
        "floor", [*command, "--asgi", "floor:application"], env=env, cwd=ROOT, base_url=base_url
    )
    server.wait_ready("/")
    anyone = {"client_id": "floor", "client_secret": "floor"}
    created = {"cc": anyone, "code": anyone, "cookie": "sessionid=floor"}
    paths = {k: f"/{k}" for k in ("token", "introspect", "authorize")}
    fixtures = fixtures_from(created, base_url=base_url, paths=paths, scope="floor")
    fixtures["bearer"]["tokens"] = fixtures["introspect"]["tokens"] = ["floor"] * BEARER_TOKENS
    fixtures["refresh"]["tokens"] = ["floor"] * refresh_count
    return server, fixtures, {"serving": serving_facts(env, doorman=True), "statement": "SELECT 1"}


def start_target(target: str, refresh_count: int) -> tuple[Server, dict, dict]:
    if target == "doorman":
        return start_doorman(refresh_count)
    if target.startswith("dot-"):
        return start_dot(target, refresh_count)
    if target == "floor":
        return start_floor(refresh_count)
    return start_oidc_provider(refresh_count)
