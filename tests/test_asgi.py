"""config/asgi.py, the body-first ASGI front, driven in-process with a fake ASGI server: the
environ it builds, the body it replays, its 408/413 refusals and streamed responses.
(tests/test_serving.py plays the same over real sockets against bin/serve.)"""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

from config.asgi import BodyFirst, wsgi_environ

BODY_TIMEOUT = 0.2


def scope(path: str = "/x", method: str = "POST", headers: list | None = None, **extra) -> dict:
    return {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8000"), *(headers or [])],
        "client": ("203.0.113.7", "50123"),
        "server": ("127.0.0.1", "8000"),
        **extra,
    }


def run(app: BodyFirst, scope: dict, messages: list[dict], send_delay=None) -> list[dict]:
    """`app` under a fake server that hands out `messages` (then waits forever) and collects
    what the app sends; `send_delay` holds every body message that long."""
    sent: list[dict] = []

    async def receive() -> dict:
        if messages:
            return messages.pop(0)
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    async def send(message: dict) -> None:
        if send_delay and message["type"] == "http.response.body":
            await asyncio.sleep(send_delay)
        sent.append(message)

    # On a thread of its own, as granian's worker runs its loop: the browser tests leave
    # Playwright's event loop running on the main thread, where asyncio.run() is refused.
    failed: list[BaseException] = []

    def serve() -> None:
        try:
            asyncio.run(app(scope, receive, send))
        except BaseException as exc:  # handed to the test's thread
            failed.append(exc)

    server = threading.Thread(target=serve)
    server.start()
    server.join()
    if failed:
        raise failed[0]
    return sent


def echo(environ, start_response):
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Seen", environ["PATH_INFO"])])
    return [body]


def front(app=echo, **options) -> BodyFirst:
    return BodyFirst(
        app, **{"threads": 1, "body_timeout": BODY_TIMEOUT, "max_body": 1000, **options}
    )


def answer(sent: list[dict]) -> tuple[int, dict, bytes]:
    start, *bodies = sent
    assert start["type"] == "http.response.start"
    assert all(m["type"] == "http.response.body" for m in bodies)
    assert not bodies[-1].get("more_body", False)
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], headers, b"".join(m["body"] for m in bodies)


def body(data: bytes, more: bool = False) -> dict:
    return {"type": "http.request", "body": data, "more_body": more}


def test_the_environ_is_what_the_wsgi_server_gave():
    environ = wsgi_environ(
        scope(
            "/caf\u00e9/a b",
            raw_path=b"/caf%C3%A9/a%20b",
            query_string=b"x=1&y=%C3%A9",
            scheme="https",
            headers=[
                (b"content-type", b"application/x-www-form-urlencoded"),
                (b"content-length", b"3"),
                (b"x-forwarded-for", b"198.51.100.1"),
                (b"x-forwarded-for", b"10.0.0.1"),
                (b"cookie", b"a=1"),
                (b"cookie", b"b=2"),
                (b"authorization", b"Basic eDp5"),
            ],
        ),
        b"abc",
    )
    assert environ["REQUEST_METHOD"] == "POST"
    assert environ["SCRIPT_NAME"] == ""
    assert environ["PATH_INFO"] == "/caf\u00c3\u00a9/a b"  # PEP 3333: bytes as Latin-1
    assert environ["QUERY_STRING"] == "x=1&y=%C3%A9"
    assert environ["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert environ["REMOTE_ADDR"] == "203.0.113.7"
    assert environ["REMOTE_PORT"] == "50123"
    assert environ["SERVER_NAME"] == "127.0.0.1"
    assert environ["SERVER_PORT"] == "8000"
    assert environ["wsgi.url_scheme"] == "https"
    assert environ["HTTP_HOST"] == "127.0.0.1:8000"
    assert environ["CONTENT_TYPE"] == "application/x-www-form-urlencoded"
    assert environ["CONTENT_LENGTH"] == "3"
    assert environ["HTTP_X_FORWARDED_FOR"] == "198.51.100.1,10.0.0.1"
    assert environ["HTTP_COOKIE"] == "a=1; b=2"
    assert environ["HTTP_AUTHORIZATION"] == "Basic eDp5"
    assert environ["wsgi.input"].read() == b"abc"


def test_the_body_is_read_first_and_replayed_to_the_application():
    pieces = [body(b"grant_type=", more=True), body(b"client_", more=True), body(b"credentials")]
    sent = run(front(), scope(headers=[(b"content-length", b"29")]), pieces)
    status, headers, content = answer(sent)
    assert (status, content) == (200, b"grant_type=client_credentials")
    assert headers["x-seen"] == "/x"


def test_a_request_without_a_body_does_not_wait_for_one():
    sent = run(front(), scope(method="GET"), [])  # receive would wait an hour
    assert answer(sent)[:1] == (200,)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (
            "/accounts/api/v2/oauth2/token",
            {"error": "invalid_request", "error_description": "The request body is too large."},
        ),
        (
            "/accounts/api/connectedApplications",
            {"error": "request_too_large", "message": "The request body is too large."},
        ),
    ],
)
def test_an_announced_oversize_body_is_413_json_unread(path, expected):
    sent = run(front(), scope(path, headers=[(b"content-length", b"1001")]), [])
    status, headers, content = answer(sent)
    assert status == 413
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    assert json.loads(content) == expected


def test_an_oversize_chunked_body_is_413_once_it_passes_the_limit():
    pieces = [body(b"x" * 600, more=True), body(b"x" * 600, more=True)]
    sent = run(front(), scope(headers=[(b"transfer-encoding", b"chunked")]), pieces)
    assert answer(sent)[0] == 413


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (
            "/accounts/api/v2/oauth2/token",
            {
                "error": "invalid_request",
                "error_description": "The request body did not arrive in time.",
            },
        ),
        (
            "/accounts/api/profile",
            {"error": "request_timeout", "message": "The request body did not arrive in time."},
        ),
    ],
)
def test_a_stalled_body_is_408_json_after_the_body_timeout(path, expected):
    sent = run(front(), scope(path, headers=[(b"content-length", b"100")]), [body(b"x" * 50, True)])
    status, headers, content = answer(sent)
    assert status == 408
    assert headers["connection"] == "close"
    assert json.loads(content) == expected


def test_a_client_that_goes_away_gets_nothing_and_the_application_is_not_run():
    called = []

    def app(environ, start_response):
        called.append(environ)
        return echo(environ, start_response)

    disconnect = {"type": "http.disconnect"}
    sent = run(front(app), scope(headers=[(b"content-length", b"10")]), [disconnect])
    assert sent == []
    assert called == []


class Streamed:
    """A streamed WSGI answer (like Django's StreamingHttpResponse) that notes its thread."""

    streaming = True

    def __init__(self, pieces: int) -> None:
        self.pieces = pieces
        self.threads: set[int] = set()
        self.closed_in: int | None = None

    def __iter__(self):
        for n in range(self.pieces):
            self.threads.add(threading.get_ident())
            yield b"%05d," % n * 1000

    def close(self) -> None:
        self.closed_in = threading.get_ident()


def test_a_streamed_answer_goes_out_in_pieces_from_the_thread_that_made_it():
    streamed = Streamed(pieces=20)
    made_in: list[int] = []

    def app(environ, start_response):
        made_in.append(threading.get_ident())
        start_response("200 OK", [("Content-Type", "text/csv")])
        return streamed

    sent = run(front(app), scope(method="GET"), [])
    status, _, content = answer(sent)
    assert status == 200
    assert content == b"".join(b"%05d," % n * 1000 for n in range(20))
    assert len(sent) > 3  # not gathered into one message
    assert streamed.threads == {made_in[0]} == {streamed.closed_in}


def test_a_client_that_stops_reading_a_stream_frees_the_thread():
    streamed = Streamed(pieces=100)

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/csv")])
        return streamed

    sent = run(front(app), scope(method="GET"), [], send_delay=3600)
    assert [m["type"] for m in sent] == ["http.response.start"]
    assert streamed.closed_in is not None


@pytest.mark.django_db
def test_the_django_application_answers_through_it():
    from config.asgi import application

    sent = run(application, scope("/healthz", method="GET"), [])
    status, headers, content = answer(sent)
    assert status == 200
    assert json.loads(content) == {"status": "ok"}
    assert headers["x-frame-options"] == "DENY"
