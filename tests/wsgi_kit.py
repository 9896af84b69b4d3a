"""One request through the production WSGI application (config.wsgi: the token front ahead
of Django), as a server would send it, for the tests of that front and of /metrics."""

from __future__ import annotations

import io
import json

from config.wsgi import application
from tests.oauth.tokenkit import TOKEN_URL


class Answer:
    def __init__(self, status: str, headers: list, body: bytes) -> None:
        self.status_code = int(status.split(" ", 1)[0])
        self.status = status
        self.headers = dict(headers)
        self.body = body

    def json(self) -> dict:
        return json.loads(self.body)


def call(
    body: bytes | str,
    *,
    content_type: str = "application/x-www-form-urlencoded",
    method: str = "POST",
    query: str = "",
    app=application,
    **extra,
) -> Answer:
    """One request through the production WSGI application (config.wsgi)."""
    raw = body.encode() if isinstance(body, str) else body
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": TOKEN_URL,
        "QUERY_STRING": query,
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(raw)),
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": "testserver",
        "REMOTE_ADDR": "127.0.0.1",
        "SCRIPT_NAME": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.input": io.BytesIO(raw),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
        **extra,
    }
    started = {}

    def start_response(status, headers, exc_info=None):
        started.update(status=status, headers=headers)

    result = app(environ, start_response)
    try:
        content = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    return Answer(started["status"], started["headers"], content)
