"""A redis-server of a test's own, on a free private port: started, killed, restarted on the
same port, frozen (SIGSTOP) and thawed by the test, never the machine's shared Redis."""

from __future__ import annotations

import os
import socket
import subprocess
import time

import redis


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivateRedis:
    def __init__(self, directory: str | None = None, options: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.directory = directory  # an append-only file there: data outlives a restart
        self.options = options

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        if self.directory:
            command += ["--appendonly", "yes", "--appendfsync", "always", "--dir", self.directory]
        else:
            command += ["--appendonly", "no"]
        command += list(self.options)
        self.process = subprocess.Popen(  # noqa: S603 (a fixed command line)
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        client = redis.Redis(port=self.port, socket_timeout=1)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        client.close()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)

    def signal(self, number: int) -> None:
        os.kill(self.process.pid, number)
