"""`Served`: bin/serve, the production server command, started by a test on a free port with
the environment it gives, until `stop()`."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import requests

from tests.redis_kit import free_port

ROOT = Path(__file__).resolve().parent.parent


def own_database_url() -> str:
    """The URL of the test's own PostgreSQL database (for bin/serve, or a connection of the
    test's own that breaks or locks things)."""
    from django.db import connection

    db = connection.settings_dict
    credentials = f"{db['USER']}:{db['PASSWORD']}" if db["PASSWORD"] else db["USER"]
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    return f"postgresql://{credentials}@{host}:{port}/{db['NAME']}"


class Served:
    def __init__(self, **env: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(  # noqa: S603 - our own script
            [str(ROOT / "bin" / "serve")],
            env={
                **os.environ,
                "DOORMAN_ENV": "development",
                "DOORMAN_BIND": f"127.0.0.1:{self.port}",
                "DOORMAN_WORKERS": "1",
                "DOORMAN_LOG_LEVEL": "CRITICAL",
                **env,
            },
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(150):
            try:
                requests.get(self.base + "/healthz", timeout=2)
                return
            except requests.ConnectionError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("bin/serve did not start")

    def stop(self) -> None:
        """SIGTERM, and SIGKILL for what is still there after 10 s (a granian worker was once
        seen stuck after SIGTERM): no test leaves a server behind."""
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
