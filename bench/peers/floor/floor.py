"""The benchmark's floor: Doorman's serving shape answering every request after one
PostgreSQL round trip, and nothing else.

bin/serve's ASGI front (config/asgi.py: granian, the body read on the event loop, the WSGI
application in a pool thread) around a WSGI application that sends `SELECT 1` through
Django's cursor, as any request of Doorman's that asks the database once does, then answers
what each workload counts as a success (a token, `"active": true`, a code). No token is
checked or issued: this is the ceiling for any design that must ask PostgreSQL once per
request (Doorman's bearer check does: a revoked token must fail on every worker on the next
request), measured in the same run as the servers it bounds.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.core import signals
from django.db import connection

from config.asgi import BodyFirst

ANSWER = json.dumps(
    {
        "access_token": "floor",
        "refresh_token": "floor",
        "token_type": "Bearer",
        "expires_in": 3600,
        "active": True,
    }
).encode()
CODE_REDIRECT = "https://client.example/callback?code=floor&state=x"


def one_statement(environ: dict, start_response) -> list[bytes]:
    signals.request_started.send(sender=None, environ=environ)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchall()
    finally:
        signals.request_finished.send(sender=None)
    if environ["PATH_INFO"].endswith("/authorize"):
        start_response("302 Found", [("Location", CODE_REDIRECT), ("Content-Length", "0")])
        return [b""]
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(ANSWER)))]
    start_response("200 OK", headers)
    return [ANSWER]


application = BodyFirst(
    one_statement,
    threads=settings.DOORMAN_THREADS,
    body_timeout=settings.DOORMAN_BODY_TIMEOUT,
    max_body=settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
)
