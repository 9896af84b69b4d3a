"""ASGI entry point (bin/serve: granian --interface asgi config.asgi:application).

The application is the WSGI one (config.wsgi: Django behind the token fast path); this front
makes sure no client can hold the thread that runs it. A WSGI server hands the application a
`wsgi.input` that blocks until the client has sent the body, so a client announcing a body and
sending half of it held a worker thread for as long as it kept the connection open (granian's
WSGI reader has no timeout; a few such connections stopped the service). Here the body is
read first, on the event loop, where a waiting client costs a coroutine and no thread:

- the whole body must arrive within DOORMAN_BODY_TIMEOUT seconds of the head, else `408`;
- a body announced or found larger than DATA_UPLOAD_MAX_MEMORY_SIZE (what Django would refuse
  anyway) is `413` before it is read;

both as JSON in the shape the path's own errors have (RFC 6749 §5.2 on the OAuth token side,
core.api_errors' elsewhere), with the connection closed. Only then does the WSGI
application run, in a small thread pool (DOORMAN_THREADS per process), with the body already
in memory: one hand-over to a thread and back per request. A streamed response (the audit
CSV) is iterated in that one thread, where it started (Django's connections are per thread),
and handed to the loop a piece at a time; a client that takes no piece for
DOORMAN_BODY_TIMEOUT seconds ends the response and frees the thread.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any
from urllib.parse import unquote_to_bytes

from django.conf import settings

from config import wsgi  # first: it sets Django up, which the imports below need
from core.api_errors import TOO_LARGE_MESSAGE, error_body

log = logging.getLogger(__name__)

Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]

TOO_SLOW_MESSAGE = "The request body did not arrive in time."
# Paths whose errors are RFC 6749 §5.2 bodies (oauth.views.token.oauth_error); the rest of the
# API answers with core.api_errors.error_body.
OAUTH_PREFIXES = ("/accounts/api/v2/oauth2/", "/accounts/login")
STREAM_PIECE = 32 * 1024  # a streamed response reaches the loop in pieces of about this size
HTTP_VERSIONS = {"1": "HTTP/1.0", "1.1": "HTTP/1.1", "2": "HTTP/2", "3": "HTTP/3"}
SPECIAL_HEADERS = {b"content-type": "CONTENT_TYPE", b"content-length": "CONTENT_LENGTH"}


class ClientTooSlow(Exception):
    """The client took no piece of a streamed response for DOORMAN_BODY_TIMEOUT seconds."""


def refusal(path: str, status: int) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """A 408 or 413 for `path` as (status, headers, body), closing the connection."""
    message = TOO_LARGE_MESSAGE if status == 413 else TOO_SLOW_MESSAGE
    if path.startswith(OAUTH_PREFIXES):
        # RFC 6749 §5.2 has a code for neither: invalid_request is the malformed request's
        body: dict[str, Any] = {"error": "invalid_request", "error_description": message}
    else:
        body = error_body(status, message)
    content = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(content)).encode()),
        (b"cache-control", b"no-store"),
        (b"connection", b"close"),
    ]
    return status, headers, content


def _environ_key(name: bytes) -> str:
    return SPECIAL_HEADERS.get(name) or "HTTP_" + name.decode("latin-1").upper().replace("-", "_")


_environ_keys: dict[bytes, str] = {}


def wsgi_environ(scope: dict, body: bytes) -> dict[str, Any]:
    """PEP 3333's environ for an ASGI HTTP scope, as granian's WSGI server built it: PATH_INFO
    percent-decoded as Latin-1 bytes, repeated headers joined with "," (cookies with "; ")."""
    raw_path = scope.get("raw_path") or scope["path"].encode()
    server = scope.get("server") or ("localhost", 80)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": scope.get("root_path", "").encode().decode("latin-1"),
        "PATH_INFO": unquote_to_bytes(raw_path).decode("latin-1"),
        "QUERY_STRING": scope["query_string"].decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": HTTP_VERSIONS.get(scope.get("http_version", "1.1"), "HTTP/1.1"),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    client = scope.get("client")
    if client:
        environ["REMOTE_ADDR"], environ["REMOTE_PORT"] = str(client[0]), str(client[1])
    for name, value in scope["headers"]:
        key = _environ_keys.get(name)
        if key is None:
            key = _environ_key(name.lower())
            if len(_environ_keys) < 1000:  # names a client makes up must not fill it
                _environ_keys[name] = key
        text = value.decode("latin-1")
        if key in environ:
            text = environ[key] + ("; " if key == "HTTP_COOKIE" else ",") + text
        environ[key] = text
    return environ


class StartResponse:
    """PEP 3333's start_response, keeping the status and headers as ASGI wants them."""

    __slots__ = ("headers", "status", "written")

    def __init__(self) -> None:
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.written: list[bytes] = []

    def __call__(self, status: str, headers: list[tuple[str, str]], exc_info=None):
        self.status = int(status[:3])
        self.headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers
        ]
        return self.written.append


class BodyFirst:
    """An ASGI application running `wsgi` once the request body is in memory (module doc)."""

    def __init__(self, wsgi: Callable, *, threads: int, body_timeout: float, max_body: int) -> None:
        self.wsgi = wsgi
        self.body_timeout = body_timeout
        self.max_body = max_body
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="wsgi")

    async def __call__(self, scope: dict, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self.lifespan(receive, send)

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.executor.shutdown(wait=False)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def http(self, scope: dict, receive: Receive, send: Send) -> None:
        body = await self.body(scope, receive)
        if body is None:
            return  # the client went away
        if isinstance(body, int):
            await self.answer(send, *refusal(scope["path"], body))
            return
        loop = asyncio.get_running_loop()
        environ = wsgi_environ(scope, body)
        try:
            answer = await loop.run_in_executor(self.executor, self.run, environ, loop, send)
        except ClientTooSlow:
            log.info("A client took too long to read %s; its response was cut short", scope["path"])
            return
        if answer is not None:
            await self.answer(send, *answer)

    async def body(self, scope: dict, receive: Receive) -> bytes | int | None:
        """The request body; 413 or 408 when it is too large or too slow; None when the
        client disconnected."""
        announced = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit():  # the server has refused others
                announced = int(value)
            elif name == b"transfer-encoding":
                chunked = True
        if not chunked and not announced:
            return b""  # no body: nothing to wait for
        if announced and announced > self.max_body:
            return 413
        pieces: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.body_timeout):
                while True:
                    message = await receive()
                    if message["type"] != "http.request":
                        return None
                    piece = message.get("body", b"")
                    size += len(piece)
                    if size > self.max_body:
                        return 413
                    pieces.append(piece)
                    # All that was announced has come: the end-of-body message would only
                    # cost another round trip through the server.
                    if size == announced or not message.get("more_body", False):
                        break
        except TimeoutError:
            return 408
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    @staticmethod
    async def answer(
        send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def run(self, environ: dict, loop: asyncio.AbstractEventLoop, send: Send):
        """In a pool thread: the WSGI application's answer as (status, headers, body), or
        None once a streamed answer has been sent from here, piece by piece."""
        start = StartResponse()
        result: Iterable[bytes] = self.wsgi(environ, start)
        try:
            if isinstance(result, list | tuple) or getattr(result, "streaming", None) is False:
                return start.status, start.headers, b"".join([*start.written, *result])
            self.stream(start, result, loop, send)
            return None
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()  # Django's request_finished: in the thread that served the request

    def stream(
        self, start: StartResponse, result: Iterable[bytes], loop: asyncio.AbstractEventLoop, send
    ) -> None:
        def hand_over(message: dict) -> None:
            future = asyncio.run_coroutine_threadsafe(_sent(send, message), loop)
            try:
                future.result(self.body_timeout)
            except FutureTimeout:
                future.cancel()
                raise ClientTooSlow from None

        hand_over({"type": "http.response.start", "status": start.status, "headers": start.headers})
        piece = bytearray(b"".join(start.written))
        for chunk in result:
            piece += chunk
            if len(piece) >= STREAM_PIECE:
                hand_over({"type": "http.response.body", "body": bytes(piece), "more_body": True})
                piece.clear()
        hand_over({"type": "http.response.body", "body": bytes(piece)})


async def _sent(send: Send, message: dict) -> None:
    await send(message)


application = BodyFirst(
    wsgi.application,
    threads=settings.DOORMAN_THREADS,
    body_timeout=settings.DOORMAN_BODY_TIMEOUT,
    max_body=settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
)
