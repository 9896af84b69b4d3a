"""One benchmark workload replayed in-process under cProfile (bench/profile runs this).

The benchmark (bench/run) measures requests per second from outside; this says where a
request's CPU goes. After `bench/run --targets doorman` (which leaves its database,
fixtures and settings in var/bench/doorman/), each request goes through the production WSGI
application (config.wsgi: the token front ahead of Django), as the server would send it:

    bench/profile bearer            # CPU ms per request, then the cProfile (CPU time)
    bench/profile authorize 500     # 500 requests (default 2000)
    bench/profile exchange --sql    # the statements one request sends, instead

Workloads: cc, bearer, introspect, refresh, authorize (GET with a remembered consent), and
exchange (the code exchange alone: codes are minted first, outside the measurement).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench" / "doorman"
FORM = "application/x-www-form-urlencoded"


def environ(path: str, *, method: str = "GET", query: str = "", body: bytes = b"", **headers):
    host = urlsplit(os.environ["DOORMAN_BASE_URL"]).netloc
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "CONTENT_TYPE": FORM if body else "",
        "CONTENT_LENGTH": str(len(body)),
        "SERVER_NAME": host.split(":")[0],
        "SERVER_PORT": host.split(":")[-1],
        "HTTP_HOST": host,
        "REMOTE_ADDR": "127.0.0.1",
        "SCRIPT_NAME": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
        **{f"HTTP_{name.upper()}": value for name, value in headers.items()},
    }


def call(application, env: dict) -> tuple[str, dict, bytes]:
    answer: dict = {}

    def start_response(status, headers, exc_info=None):
        answer.update(status=status, headers=dict(headers))

    body = b"".join(application(env, start_response))
    return answer["status"], answer["headers"], body


def requests_for(workload: str, fixtures: dict, application, count: int) -> Callable[[int], dict]:
    """A function giving the environ of the i-th request of `workload`."""
    if workload == "bearer":
        tokens = fixtures["bearer"]["tokens"]
        return lambda i: environ(
            fixtures["bearer"]["path"], authorization="Bearer " + tokens[i % len(tokens)]
        )
    if workload == "introspect":
        spec = fixtures["introspect"]
        tokens = spec["tokens"]
        return lambda i: environ(
            spec["path"],
            method="POST",
            body=f"token={tokens[i % len(tokens)]}".encode(),
            authorization="Basic " + spec["basic"],
        )
    if workload == "cc":
        spec = fixtures["cc"]
        body = spec["body"].encode()
        return lambda i: environ(
            spec["path"], method="POST", body=body, authorization="Basic " + spec["basic"]
        )
    code = fixtures["code"]
    path, _, query = code["authorize_path"].partition("?")

    def authorize(i: int = 0) -> dict:
        return environ(path, query=query, cookie=code["cookie"])

    if workload == "authorize":
        return authorize

    def token_request(params: dict) -> dict:
        return environ(
            code["token_path"],
            method="POST",
            body=urlencode(params).encode(),
            authorization="Basic " + code["basic"],
        )

    if workload == "exchange":
        codes = []
        for _ in range(count):
            _status, headers, _body = call(application, authorize())
            codes.append(parse_qs(urlsplit(headers["Location"]).query)["code"][0])
        redeem = {"redirect_uri": code["redirect_uri"], "code_verifier": code["code_verifier"]}
        return lambda i: token_request(
            {"grant_type": "authorization_code", "code": codes.pop(), **redeem}
        )
    if workload == "refresh":
        latest = {"token": fixtures["refresh"]["tokens"][0]}

        def refresh(i: int) -> dict:
            return token_request({"grant_type": "refresh_token", "refresh_token": latest["token"]})

        refresh.latest = latest  # type: ignore[attr-defined]
        return refresh
    raise SystemExit(f"unknown workload {workload!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workload")
    parser.add_argument("count", nargs="?", type=int, default=2000)
    parser.add_argument("--sql", action="store_true", help="list one request's statements")
    parser.add_argument("--lines", type=int, default=60, help="cProfile lines to print")
    args = parser.parse_args()
    settings_file = VAR / "server-env.json"
    if not settings_file.exists():
        raise SystemExit("no benchmark run to replay: run `bench/run --targets doorman` first")
    os.environ.update(json.loads(settings_file.read_text()))
    sys.path.insert(0, str(ROOT))

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from config.wsgi import application

    fixtures = json.loads((VAR / "fixtures.json").read_text())
    warm_up = 200
    total = warm_up + (1 if args.sql else 2 * args.count)
    request = requests_for(args.workload, fixtures, application, total)

    def send(i: int) -> tuple[str, bytes]:
        status, _headers, body = call(application, request(i))
        latest = getattr(request, "latest", None)
        if latest is not None and status.startswith("200"):
            latest["token"] = json.loads(body)["refresh_token"]
        return status, body

    counter = iter(range(total))
    for _ in range(warm_up):
        status, body = send(next(counter))
    print(status, body[:200])
    if args.sql:
        with CaptureQueriesContext(connection) as captured:
            send(next(counter))
        for query in captured.captured_queries:
            print(query["sql"], end="\n\n")
        return
    started = time.process_time()
    for _ in range(args.count):
        send(next(counter))
    cpu_ms = (time.process_time() - started) * 1000 / args.count
    print(f"{args.workload}: {cpu_ms:.3f} ms CPU per request (in-process, {args.count} requests)")
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for _ in range(args.count):
        send(next(counter))
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(args.lines)
    print(out.getvalue())


if __name__ == "__main__":
    main()
