"""Servers as process groups: started, waited for, watched (CPU, workers' RSS), stopped."""

# It runs fixed local programs (psql, wrk, the servers) and opens only its own loopback servers.
# ruff: noqa: S310, S603

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from harness.common import (
    VAR,
)


class Server:
    """One server process group; stopped on exit whatever happens (see stop_all_servers)."""

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


def stop_all_servers(*_args) -> None:
    for server in list(Server.live):
        server.stop()


def stop_all_and_exit(signum, _frame) -> None:
    stop_all_servers()
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
