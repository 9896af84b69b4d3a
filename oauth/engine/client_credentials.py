"""The client_credentials grant (RFC 6749 §4.4) on a direct path: machine-to-machine traffic's
hot path, without oauthlib's request machinery.

Only a request that will certainly succeed takes it: a confidential client authenticating with
HTTP Basic or `client_id`/`client_secret` in the body, registered for client_credentials, whose
owner org has connected apps on, asking for scopes it holds (or none: its defaults). It then
issues exactly what the oauthlib path would: the same token row, response body, usage count
and audit event. Anything else — a failed check of any kind, a client assertion, an unusual
parameter — returns None and the request goes through oauthlib (DoormanValidator), which
gives every refusal its RFC 6749 error and audit event. Nothing is decided differently here.
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.http import HttpResponse
from django.utils import timezone

from audit.models import AuditAction, AuditEvent
from connected_apps.models import GrantType
from connected_apps.usage import usage_record_token_issued
from core.db import rows_insert
from oauth import principal_cache
from oauth.engine.clients import (
    CLIENT_ID_SHAPE,
    SECRET_HASHER,
    token_endpoint_app,
    token_endpoint_app_load,
)
from oauth.engine.credentials import basic_credentials
from oauth.issuance import request_meta, token_event_values
from oauth.models import AccessToken
from oauth.ratelimit import token_request_authenticated
from oauth.scopes import ConnectedAppScopes
from oauth.tokens import generate_token, token_stored_values

# Parameters this path understands; any other (resource indicators, assertions...) goes the
# general way.
KNOWN_PARAMETERS = frozenset({"grant_type", "scope", "client_id", "client_secret"})
SCOPES = ConnectedAppScopes()


def _client_credentials(request, params: dict[str, str]) -> tuple[str, str] | None:
    """(client_id, client_secret) from exactly one of Basic or the body."""
    authorization = request.META.get("HTTP_AUTHORIZATION")
    if authorization is None:
        client_id, secret = params.get("client_id"), params.get("client_secret")
        return (client_id, secret) if client_id and secret else None
    credentials = basic_credentials(authorization)
    if credentials is None or "client_secret" in params:
        return None
    if params.get("client_id", credentials[0]) != credentials[0]:
        return None
    return credentials


def client_credentials_token(request, params: dict[str, str]) -> HttpResponse | None:
    """The token response for a client_credentials request certain to succeed, else None."""
    body = client_credentials_issue(request, params)
    return None if body is None else HttpResponse(body, content_type="application/json")


def client_credentials_issue(request, params: dict[str, str]) -> bytes | None:
    """The token response's JSON body for a client_credentials request certain to
    succeed, else None."""
    if params.get("grant_type") != GrantType.CLIENT_CREDENTIALS or set(params) - KNOWN_PARAMETERS:
        return None
    credentials = _client_credentials(request, params)
    if credentials is None:
        return None
    client_id, secret = credentials
    if not CLIENT_ID_SHAPE.fullmatch(client_id):
        return None
    # An app this worker remembers is used without asking whether it is still current: the
    # insert itself checks that (one round trip in all), and issues nothing if it is not.
    remembered = principal_cache.app_facts.recent(client_id) if principal_cache.enabled() else None
    current = remembered and principal_cache.app_generation_is(remembered.generation)
    if current:
        app = token_endpoint_app(remembered.value)
        scope = _granted_scope(request, app, secret, params.get("scope"))
        if scope is not None:
            body = _issue(request, app, scope, only_if=current)
            if body is not None:
                return body
    # Refused or issued nothing on what this worker remembered: decide on current facts.
    app = token_endpoint_app_load(client_id)
    scope = _granted_scope(request, app, secret, params.get("scope"))
    return None if scope is None else _issue(request, app, scope)


def _granted_scope(request, app, secret: str, requested: str | None) -> str | None:
    """The scope to grant `app` authenticating with `secret`, or None for anything but a
    certain success."""
    if (
        app is None
        or not app.is_usable(request)
        or app.client_type != app.CLIENT_CONFIDENTIAL
        or GrantType.CLIENT_CREDENTIALS not in app.grant_types
        or not app.doorman_owner_enabled
        or not app.client_secret.startswith(f"{SECRET_HASHER.algorithm}$")
        or not SECRET_HASHER.verify(secret, app.client_secret)
    ):
        return None
    if requested is None:
        scopes = SCOPES.get_default_scopes(app)
    else:
        scopes = requested.split(" ")
        if not all(scopes) or not set(scopes) <= set(SCOPES.get_available_scopes(app)):
            return None
    return " ".join(scopes) if scopes else None


def _issue(request, app, scope: str, *, only_if: tuple[str, list] | None = None) -> bytes | None:
    """Issue a token (its row and audit event), `only_if` that SQL condition holds."""
    raw = generate_token()
    lifetime = settings.OAUTH2_PROVIDER["ACCESS_TOKEN_EXPIRE_SECONDS"]
    token = {
        **token_stored_values(raw),
        "application_id": app.pk,
        "scope": scope,
        "expires": timezone.now() + timedelta(seconds=lifetime),
        "resource": [],
    }
    event = token_event_values(
        action=AuditAction.TOKEN_ISSUED,
        app=app,
        user=None,
        details={
            "grant_type": GrantType.CLIENT_CREDENTIALS.value,
            "scope": scope,
            "refresh_token_issued": False,
        },
        meta=request_meta(request.META),
    )
    savepoint = transaction.atomic() if connection.in_atomic_block else nullcontext()
    try:
        with savepoint:
            # The token and its audit event: both or neither.
            if not rows_insert((AccessToken, token), (AuditEvent, event), only_if=only_if):
                return None
    except IntegrityError:
        return None  # the app went away meanwhile: the general path refuses it properly
    usage_record_token_issued(app=app)
    token_request_authenticated(app.client_id)
    body = {"access_token": raw, "expires_in": lifetime, "token_type": "Bearer", "scope": scope}
    return json.dumps(body).encode()
