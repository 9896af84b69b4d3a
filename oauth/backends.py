"""The oauthlib core (DOT's OAUTH2_BACKEND_CLASS seam): JSON and form bodies alike.

SPEC §4: the token endpoint takes `application/json` as well as
`application/x-www-form-urlencoded`. Bodies are parsed once, strictly, by the endpoint views
(`parse_oauth_body`); the core hands the parsed pairs to oauthlib as if they had been a form.
A per-request `EndpointContext` travels to the validator inside the oauthlib request's
headers, so the view can learn which app and user a request concerned (for its audit event,
its `Retry-After` header) without oauthlib knowing about it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import BadRequest, DisallowedHost
from django.http.multipartparser import MultiPartParserError
from oauth2_provider.oauth2_backends import OAuthLibCore

from core.api_support import has_lone_surrogate

CONTEXT_HEADER = "doorman.context"  # not an HTTP header name: clients cannot send it
JSON_CONTENT_TYPES = frozenset({"application/json"})
FORM_CONTENT_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
MAX_PARAM_LENGTH = 16 * 1024


class MalformedBody(ValueError):
    """A body that is not a flat object of string parameters (→ `invalid_request`)."""


class RequestAudiences:
    """The JWT audiences a request accepts (RFC 7523 §3): the configured issuer and token
    endpoint, this endpoint, and the same as this request reached them (a host in
    ALLOWED_HOSTS). Worked out when first asked: only client and grant assertions need them,
    and building the URLs is most of a token request's own cost before any database work."""

    def __init__(self, request) -> None:
        self._request, self._values = request, None

    def _computed(self) -> frozenset[str]:
        if self._values is None:
            audiences = {settings.DOORMAN_ISSUER, f"{settings.DOORMAN_ISSUER}/token"}
            request = self._request
            try:
                issuer_here = request.build_absolute_uri("/accounts/api/v2/oauth2")
                audiences |= {request.build_absolute_uri(request.path), issuer_here}
                audiences.add(f"{issuer_here}/token")
            except DisallowedHost:
                pass  # a Host outside ALLOWED_HOSTS names nothing here: the configured URLs
            self._values = frozenset(audiences)
        return self._values

    def __iter__(self):
        return iter(self._computed())

    def __contains__(self, audience: object) -> bool:
        return audience in self._computed()

    def __len__(self) -> int:
        return len(self._computed())


@dataclass
class EndpointContext:
    """What the view knows about an endpoint call, and what the validator learns during it."""

    audiences: RequestAudiences | frozenset[str]
    client: Any = None  # the app the request names (its refusals are audited to it)
    authenticated: bool = False  # proven: credentials, a client assertion or a signed grant
    user: Any = None
    retry_after: int | None = None
    refusal_recorded: bool = False  # the engine audited its refusal where it decided it

    @classmethod
    def for_request(cls, request) -> EndpointContext:
        return cls(audiences=RequestAudiences(request))


def endpoint_context(oauthlib_request) -> EndpointContext | None:
    headers = getattr(oauthlib_request, "headers", None) or {}
    context = headers.get(CONTEXT_HEADER)
    return context if isinstance(context, EndpointContext) else None


def _json_pairs(raw: bytes) -> list[tuple[str, str]]:
    if not raw.strip():
        return []
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedBody("The body is not valid JSON.") from exc
    if not isinstance(data, dict):
        raise MalformedBody("The JSON body must be an object.")
    pairs: list[tuple[str, str]] = []
    for name, value in data.items():
        if value is None:
            continue  # an explicit null is an absent parameter
        if name == "scope" and isinstance(value, list) and all(isinstance(s, str) for s in value):
            value = " ".join(value)
        if not isinstance(value, str):
            raise MalformedBody(f"Parameter {name[:64]} must be a string.")
        pairs.append((name, value))
    return pairs


def parse_oauth_body(request) -> list[tuple[str, str]]:
    """The body's parameters as (name, value) pairs, repeats kept (RFC 6749 §3.2 forbids
    them; the views refuse them). Raises MalformedBody."""
    content_type = (request.content_type or "").lower()
    if content_type in JSON_CONTENT_TYPES:
        pairs = _json_pairs(request.body)
    elif content_type in FORM_CONTENT_TYPES or not request.body:
        try:
            pairs = [(name, value) for name, values in request.POST.lists() for value in values]
        except (MultiPartParserError, BadRequest) as exc:
            # A multipart part header over Django's size limit, a form charset other than UTF-8.
            raise MalformedBody("The form body is malformed.") from exc
    else:
        raise MalformedBody("Send application/x-www-form-urlencoded or application/json.")
    for name, value in pairs:
        if has_lone_surrogate(name):
            raise MalformedBody("A parameter name is not acceptable.")
        if "\x00" in name or "\x00" in value or len(value) > MAX_PARAM_LENGTH:
            raise MalformedBody(f"Parameter {name[:64]!r} is not acceptable.")
        if has_lone_surrogate(value):
            raise MalformedBody(f"Parameter {name[:64]!r} is not acceptable.")
    return pairs


class DoormanOAuthLibCore(OAuthLibCore):
    def extract_body(self, request) -> list[tuple[str, str]]:
        parsed = getattr(request, "doorman_params", None)
        if parsed is not None:
            return parsed
        try:
            return parse_oauth_body(request)
        except MalformedBody:
            return []

    def extract_headers(self, request) -> dict:
        headers = super().extract_headers(request)
        context = getattr(request, "doorman_context", None)
        if context is not None:
            headers[CONTEXT_HEADER] = context
        return headers
