"""Run by tests/test_database_faults.py in a network namespace of its own (`unshare -n`, as
root): Doorman reaches PostgreSQL over TCP through a relay on 127.0.0.2 (to the server's Unix
socket, which no namespace separates), a request is answered, then the network to the
relay is cut (a blackhole route: what a failover, a dead host or a partition looks like,
packets go and nothing comes back) and a second request is timed. Prints one JSON line.

    unshare -n .venv/bin/python tests/pg_partition.py DBNAME
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

UNIX_SOCKET = "/var/run/postgresql/.s.PGSQL.5432"
RELAY = ("127.0.0.2", 15432)
TOKEN_PATH = "/accounts/api/v2/oauth2/token"


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass


def _relay() -> None:
    listener = socket.socket()
    listener.bind(RELAY)
    listener.listen(16)

    def accept() -> None:
        while True:
            client, _ = listener.accept()
            server = socket.socket(socket.AF_UNIX)
            server.connect(UNIX_SOCKET)
            for pair in ((client, server), (server, client)):
                threading.Thread(target=_pipe, args=pair, daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()


def main(database: str) -> None:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)  # noqa: S607
    _relay()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DOORMAN_ENV="development",
        DATABASE_URL=f"postgres://postgres@{RELAY[0]}:{RELAY[1]}/{database}",
        REDIS_URL="",
    )
    import django

    django.setup()
    from django.test import Client

    client = Client(raise_request_exception=False)
    body = {"grant_type": "client_credentials", "client_id": "0" * 32, "client_secret": "x"}
    before = client.post(TOKEN_PATH, body).status_code
    # 127.0.0.2 stops being this host's (127.0.0.1 keeps its own route): what is sent there
    # goes nowhere.
    for route in (["del", "local", "127.0.0.0/8"], ["add", "blackhole", f"{RELAY[0]}/32"]):
        subprocess.run(["ip", "route", *route, "table", "local"], check=True)  # noqa: S603, S607
    started = time.monotonic()
    after = client.post(TOKEN_PATH, body)
    elapsed = time.monotonic() - started
    print(json.dumps({"before": before, "after": after.status_code, "elapsed": elapsed}))


if __name__ == "__main__":
    main(sys.argv[1])
