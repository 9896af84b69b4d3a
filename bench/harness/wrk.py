"""Driving wrk with bench/wrk/<workload>.lua and reading the JSON line its done() prints."""

# It runs fixed local programs (psql, wrk, the servers) and opens only its own loopback servers.
# ruff: noqa: S603

from __future__ import annotations

import json
import os
import subprocess
import urllib.parse
from pathlib import Path

from harness.common import (
    VAR,
    WRK_DIR,
    log,
    seconds,
)
from harness.servers import (
    Server,
    foreign_wrk,
)


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
        cpu_before = server.cpu_seconds()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        cpu_used = server.cpu_seconds() - cpu_before
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
    # The server's own CPU time per answer (its processes only, not PostgreSQL's or Redis'):
    # other load on the machine moves it far less than req/s (contention still inflates it).
    if result["requests"]:
        result["server_cpu_ms_per_request"] = round(cpu_used * 1000 / result["requests"], 3)
    if others:
        log(f"WARNING: other wrk processes ran meanwhile, the figures are disturbed: {others[0]}")
        result["disturbed_by"] = sorted(set(others))
    return result
