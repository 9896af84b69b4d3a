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

# It runs fixed local programs (wrk) only.
# ruff: noqa: S603

from __future__ import annotations

import argparse
import datetime
import os
import signal
import subprocess
import sys
import time
from typing import Any

from harness.common import (
    DEFAULTS,
    FRESH_PER_WORKLOAD,
    REFRESH_TOKENS,
    TARGETS,
    VAR,
    WORKLOADS,
    TargetSkipped,
    log,
    seconds,
)
from harness.report import (
    bench_lock,
    machine_facts,
    ratios,
    save,
    table,
)
from harness.servers import (
    rss_mib,
    stop_all_and_exit,
    stop_all_servers,
)
from harness.targets import (
    start_doorman,
    start_target,
    write_fixtures,
)
from harness.wrk import (
    measure,
    summarize,
    tokens_file,
    wrk_command,
    wrk_env,
    wrk_result,
)


def bench_target(target: str, opts) -> dict:
    log(f"{target}: preparing")
    server = None
    data: dict[str, Any] = {"status": "ok", "workloads": {}}
    try:
        server, fixtures, facts = start_target(target, REFRESH_TOKENS)
        write_fixtures(target, fixtures)
        data.update(facts)
        if server.worker_pids() and target != "oidc-provider":
            data["serving"]["workers_running"] = len(server.worker_pids())
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
                f" p99 {lat['p99']:.1f} ms, errors {result['errors_total']}{flows},"
                f" server CPU {result.get('server_cpu_ms_per_request', 0):.2f} ms/req"
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
            # No recycling by max_requests unless asked for: a recycled worker starts afresh,
            # which would hide the very growth the soak is there to show.
            recycle = {} if "DOORMAN_MAX_REQUESTS" in os.environ else {"DOORMAN_MAX_REQUESTS": "0"}
            server, fixtures, facts = start_doorman(REFRESH_TOKENS, recycle)
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
        "serving": facts["serving"],
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
    signal.signal(signal.SIGTERM, stop_all_and_exit)
    signal.signal(signal.SIGINT, stop_all_and_exit)
    signal.signal(signal.SIGHUP, stop_all_and_exit)
    try:
        return soak(opts) if opts.soak else bench(opts)
    finally:
        stop_all_servers()


if __name__ == "__main__":
    sys.exit(main())
