"""Token requests answered at the WSGI layer, ahead of Django's handler.

For a token request Django's request cycle (middleware chain, view decorators, QueryDict
parsing) cost more CPU than the token engine's decision and its statements. `TokenFastPath`
wraps the WSGI application: a plain form-encoded request (no repeated parameter, no query
string) of a grant machines and apps send all day goes straight to the token engine, with
what the Django path would add around it — the request signals (database connections are
checked and recycled the same way), the rate limits, SecurityMiddleware's checks and
headers, `guarded`'s error answers, `no_store` and `X-Frame-Options`, and the request and
token counts of /metrics (under the token view's labels):

- client_credentials (`oauth.engine.endpoint.client_credentials_issue`): a token, or Django's
  path decides (refuses) again; nothing a refused plain request did is kept;
- refresh_token and authorization_code: the engine's answer, refusals included (a replay's
  revocation must happen once), exactly as the token view gives it (`token_response`);
- introspection (RFC 7662): the engine's answer (`introspection_response`), as its view's.

Everything else (a JSON body, the password and jwt-bearer grants, anything unusual) goes to
Django untouched, with its body put back.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from django.conf import settings
from django.core import signals
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpResponse
from django.middleware.security import SecurityMiddleware
from django.urls import resolve

from connected_apps.models import GrantType
from core.metrics import endpoint_label, request_observe
from oauth.backends import EndpointContext
from oauth.engine.endpoint import client_credentials_issue, token_response
from oauth.engine.introspection import introspection_response
from oauth.metrics import token_answer_count
from oauth.ratelimit import token_request_rate_limited
from oauth.views.token import guarded, no_store, oauth_error_code

TOKEN_PATH = "/accounts/api/v2/oauth2/token"  # noqa: S105 (a URL path)
INTROSPECT_PATH = "/accounts/api/v2/oauth2/introspect"
FORM = "application/x-www-form-urlencoded"
MAX_BODY = 4096  # a client_credentials body is a few dozen bytes; larger ones go to Django
GRANT_TYPE = GrantType.CLIENT_CREDENTIALS.value
# Grants the engine decides here, refusals included.
DECIDED_HERE = frozenset({GrantType.REFRESH_TOKEN.value, GrantType.AUTHORIZATION_CODE.value})


def _form_params(body: bytes) -> dict[str, str] | None:
    """The body's parameters, or None when anything about it is unusual."""
    try:
        pairs = parse_qsl(body.decode("ascii"), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError):
        return None
    params = dict(pairs)
    if len(params) != len(pairs) or any("\x00" in n or "\x00" in v for n, v in pairs):
        return None
    return params


class TokenFastPath:
    def __init__(self, application: Callable) -> None:
        self.application = application
        self.security = SecurityMiddleware(lambda request: None)
        self._headers: dict[bool, list[tuple[str, str]]] = {}
        # The requests answered here are counted under the token view's endpoint label.
        self.endpoint = endpoint_label(resolve(TOKEN_PATH))
        self.introspect_endpoint = endpoint_label(resolve(INTROSPECT_PATH))

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO")
        if (
            path not in (TOKEN_PATH, INTROSPECT_PATH)
            or environ.get("REQUEST_METHOD") != "POST"
            or environ.get("QUERY_STRING")
            or environ.get("CONTENT_TYPE") != FORM
        ):
            return self.application(environ, start_response)
        started = time.perf_counter()
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return self.application(environ, start_response)
        if not 0 < length <= MAX_BODY:
            return self.application(environ, start_response)
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)  # Django reads it again if it gets the request
        params = _form_params(body)
        if path == INTROSPECT_PATH:
            if params is None:
                return self.application(environ, start_response)
            return self._introspect(environ, start_response, params, started)
        grant_type = params.get("grant_type") if params is not None else None
        if grant_type == GRANT_TYPE:
            return self._answer(environ, start_response, params, started)
        if grant_type in DECIDED_HERE:
            return self._decide(environ, start_response, params, started)
        return self.application(environ, start_response)

    def _handled(self, environ: dict, handle: Callable) -> tuple[WSGIRequest, Any] | None:
        """(request, `handle(request)`) with what Django's path puts around a request: the
        request signals (database connections checked and recycled the same way) and
        `guarded`'s error answers. None when SecurityMiddleware answers the request itself
        (an HTTPS redirect, for one): Django's path then does."""
        request = WSGIRequest(environ)
        if self.security.process_request(request) is not None:
            return None
        signals.request_started.send(sender=self.__class__, environ=environ)
        try:
            return request, guarded(request, handle)
        finally:
            signals.request_finished.send(sender=self.__class__)

    def _introspect(
        self, environ: dict, start_response: Callable, params: dict, started: float
    ) -> Iterable[bytes]:
        """The token engine's introspection answer (RFC 7662), as the view gives it."""

        def handle(request: WSGIRequest) -> HttpResponse:
            return introspection_response(request, params, EndpointContext.for_request(request))

        handled = self._handled(environ, handle)
        if handled is None:
            return self.application(environ, start_response)
        request, response = handled
        elapsed = time.perf_counter() - started
        request_observe(self.introspect_endpoint, "POST", response.status_code, elapsed)
        return self._finished(request, response, start_response)

    def _decide(
        self, environ: dict, start_response: Callable, params: dict, started: float
    ) -> Iterable[bytes]:
        """The token engine's answer, as the token view gives it (oauth.views.token)."""

        def handle(request: WSGIRequest) -> HttpResponse:
            limited = token_request_rate_limited(request, params)
            if limited is not None:
                return limited
            return token_response(request, params, EndpointContext.for_request(request))

        handled = self._handled(environ, handle)
        if handled is None:
            return self.application(environ, start_response)
        request, response = handled
        status = response.status_code
        error = oauth_error_code(response) if status != 200 else ""
        self._count(status, started, error, params["grant_type"])
        return self._finished(request, response, start_response)

    def _answer(
        self, environ: dict, start_response: Callable, params: dict, started: float
    ) -> Iterable[bytes]:
        issued: list[bytes] = []

        def handle(request: WSGIRequest) -> HttpResponse | None:
            limited = token_request_rate_limited(request, params)
            if limited is not None:
                return limited
            body = client_credentials_issue(request, params)
            if body is not None:
                issued.append(body)
            return None

        handled = self._handled(environ, handle)
        if handled is None:
            return self.application(environ, start_response)
        request, response = handled
        if issued:
            start_response("200 OK", self._issued_headers(request))
            self._count(200, started)
            return issued
        if response is None:  # not certain to succeed: Django's path decides (and counts)
            return self.application(environ, start_response)
        self._count(response.status_code, started, oauth_error_code(response))
        return self._finished(request, response, start_response)

    def _count(
        self, status: int, started: float, error: str = "", grant_type: str = GRANT_TYPE
    ) -> None:
        token_answer_count(grant_type, status, error)
        request_observe(self.endpoint, "POST", status, time.perf_counter() - started)

    def _finished(self, request, response: HttpResponse, start_response: Callable) -> list:
        response = self._secured(request, response)
        status = f"{response.status_code} {response.reason_phrase}"
        start_response(status, list(response.items()))
        return [response.content]

    def _secured(self, request, response: HttpResponse) -> HttpResponse:
        """The headers Django's middleware would add: X-Frame-Options, SecurityMiddleware's."""
        response.setdefault("X-Frame-Options", "DENY")
        return self.security.process_response(request, response)

    def _issued_headers(self, request) -> list[tuple[str, str]]:
        """A token response's headers: what Django's path gives one (`no_store`, the JSON
        content type, X-Frame-Options, SecurityMiddleware's), worked out once for plain and
        once for secure requests (HSTS), then reused."""
        secure = request.is_secure()
        headers = self._headers.get(secure)
        if headers is None:
            template = no_store(HttpResponse(b"", content_type="application/json"))
            headers = self._headers[secure] = list(self._secured(request, template).items())
        return headers


def token_fast_path(application: Callable) -> Callable:
    return TokenFastPath(application) if settings.DOORMAN_TOKEN_FAST_PATH else application
