"""What every part of the harness shares: paths, targets, workloads, ports, the fixed PKCE
pair, and running a preparation command."""

# Fixed local programs only; the lock lives in /tmp so that every checkout on the machine
# shares it.
# ruff: noqa: S108, S603

from __future__ import annotations

import argparse
import base64
import hashlib
import re
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
VAR = ROOT / "var" / "bench"
WRK_DIR = BENCH / "wrk"
DOT_DIR = BENCH / "peers" / "dot"
DOT_VENV = VAR / "dot-venv"
DOT_PACKAGES = (
    "Django>=5.2,<5.3",
    "django-oauth-toolkit==3.4.*",
    "gunicorn",
    "granian>=2.5,<3",
    "psycopg[binary]",
)
OIDC_DIR = BENCH / "peers" / "oidc-provider"
FLOOR_DIR = BENCH / "peers" / "floor"
LOCK_PATH = "/tmp/doorman-bench.lock"
PUBLISHED = BENCH / "results" / "latest.json"
README = ROOT / "README.md"

TARGETS = ("doorman", "dot-unhashed", "dot-hashed", "oidc-provider", "floor")
PEERS = TARGETS[1:]
WORKLOADS = ("cc", "bearer", "introspect", "refresh", "code")
PORTS = {
    "doorman": 8811,
    "dot-unhashed": 8812,
    "dot-hashed": 8812,
    "oidc-provider": 8813,
    "floor": 8814,
}
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
