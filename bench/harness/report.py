"""Machine facts, the table, the ratios, the results files, README's section and the lock."""

# It runs fixed local programs (psql, wrk, the servers) and opens only its own loopback servers.
# ruff: noqa: S603, S607

from __future__ import annotations

import contextlib
import fcntl
import importlib.metadata
import json
import os
import platform
import re
import subprocess
from pathlib import Path

from harness.common import (
    DOORMAN_SCOPES,
    LOCK_PATH,
    PEERS,
    PUBLISHED,
    README,
    ROOT,
    VAR,
    WORKLOADS,
    log,
)


def checkout_facts() -> dict:
    """Which code was measured: the commit, and the files changed on top of it (the checkout
    is shared, so a run may measure someone's work in progress)."""
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=False)
    status = subprocess.run(
        [*git, "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    )
    changed = [line[3:] for line in status.stdout.splitlines()]
    changed = [path for path in changed if not path.startswith("bench/") and path != "README.md"]
    return {"commit": head.stdout.strip(), "uncommitted_changes": changed}


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
        "granian": importlib.metadata.version("granian"),
        "postgresql": postgres.stdout.strip(),
        "wrk": (wrk_version.stdout + wrk_version.stderr).splitlines()[0].strip(),
        **checkout_facts(),
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
    serve = doorman.get("serving") or {"server": "gunicorn", **doorman.get("gunicorn", {})}
    doorman_scope = doorman.get("scope", DOORMAN_SCOPES)
    return f"""
`bench/run` measures Doorman against stock django-oauth-toolkit and node `oidc-provider`, the
production way: each server alone on the machine (the Django ones served by `bin/serve`,
granian, with PostgreSQL; `BENCH_SERVER=gunicorn` serves them with `gunicorn.conf.py`
instead), driven by Debian's `wrk` over loopback after a warm-up. Five
workloads: `cc` (client_credentials, Basic auth), `bearer` (`GET /accounts/api/profile` with a
bearer token; the peer's own protected view, oidc-provider's userinfo), `introspect` (RFC 7662),
`refresh` (rotation: each connection uses the refresh token its last answer returned) and
`code` (authorize with a consented session's cookie → 302 with a code → token with PKCE S256;
flows/s counts the completed flows). `dot-hashed` is DOT's default (client secrets hashed with
Django's PBKDF2 on every client authentication), `dot-unhashed` its `hash_client_secret=False`.
`floor` (bench/peers/floor) is Doorman's serving shape answering every request after one
`SELECT 1` and nothing else: the ceiling for any design that asks PostgreSQL once per request,
as Doorman's bearer check must (a revoked token fails on every worker on the next request),
measured in the same run as the servers it bounds.

```bash
bench/run                                     # everything: wrk -t2 -c16 -d15s after 3 s warm-up
bench/run --targets doorman --workloads cc,bearer --duration 3s      # a quick partial run
bench/run --soak 10m                          # all five at once on Doorman: errors, worker RSS
bench/profile bearer                          # after a Doorman run: one workload in-process,
                                              # CPU per request and its cProfile (--sql: statements)
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
served by {serve.get("server", "?")} with {serve.get("workers", "?")} workers
({serve.get("worker_class", "?")}; the Django peers by granian's WSGI server, same workers):

{table(results)}
{soak_summary(results.get("soak"))}"""


def soak_summary(soak: dict | None) -> str:
    if not soak:
        return ""
    recycled = (soak.get("serving") or soak.get("gunicorn") or {}).get("max_requests") != 0
    return (
        f"\nLast soak (`bench/run --soak {soak['duration']}`, all five workloads at once,"
        f" {soak['connections_per_workload']} connections each): {soak['requests']:,} requests,"
        f" {soak['errors']} errors; the {len(soak['rss_mib_end'])} workers' RSS"
        f" {soak['rss_mib_total_start']} → {soak['rss_mib_total_end']} MiB"
        f" ({soak['rss_mib_growth_after_warmup']:+} MiB after the first tenth"
        + (", workers recycled by max_requests" if recycled else ", no recycling")
        + ").\n"
    )


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
        if "targets" in published:
            publish_readme(published)
    else:
        previous = json.loads(PUBLISHED.read_text()) if PUBLISHED.exists() else {}
        if "soak" in previous:
            results["soak"] = previous["soak"]
        PUBLISHED.parent.mkdir(parents=True, exist_ok=True)
        PUBLISHED.write_text(json.dumps(results, indent=1) + "\n")
        publish_readme(results)
    log(f"published {PUBLISHED.relative_to(ROOT)} and README.md")
