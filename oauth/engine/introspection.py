"""RFC 7662 token introspection: what a live token is, told only to those it concerns.

Liveness is oauth.principals.access_token_resolve, the same check every API request makes,
so a token is `active` here exactly when it works: not revoked or expired, its app enabled
and still holding at least one of its scopes, its user active and allowed. The `scope` is the
effective one.

RFC 7662 §4 asks the server to keep tokens from being scanned: a client learns about a token
only when the token is its own or belongs to its own root organization (the token's app's,
or for a user's platform token the user's). Anything else is `{"active": false}`.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from connected_apps.models import ConnectedApp
from oauth.backends import EndpointContext
from oauth.engine.clients import app_named, client_identify
from oauth.engine.credentials import token_digest
from oauth.engine.endpoint import refusal_audit
from oauth.engine.facts import user_may_use_app
from oauth.errors import InvalidClient, InvalidRequest
from oauth.issuance import request_meta
from oauth.models import RefreshToken
from oauth.principal_cache import GenerationRead
from oauth.principals import (
    TokenPrincipal,
    access_token_resolve,
    app_current_scopes,
    token_checksum,
    token_read,
)

INACTIVE = {"active": False}


def _visible_to(client: ConnectedApp, app: ConnectedApp | None, org_id: Any) -> bool:
    if app is not None and app.pk == client.pk:
        return True
    return str(org_id) == str(client.root_org_id)


def _timestamp(moment) -> int:
    return int(moment.timestamp())


def _access_token_claims(principal: TokenPrincipal) -> dict[str, Any]:
    token, app, user = principal.token, principal.app, principal.user
    subject_user = user if user is not None else principal.request_user
    data: dict[str, Any] = {
        "active": True,
        "scope": " ".join(sorted(principal.effective_scopes)),
        "token_type": "Bearer",
        "exp": _timestamp(token.expires),
        "iat": _timestamp(token.created),
        "sub": str(user.pk) if user is not None else app.client_id,
        "org_id": str(user.organization_id if user is not None else app.root_org_id),
    }
    if app is not None:
        data["client_id"] = app.client_id
    if subject_user is not None:
        # For an own-behalf token: the creator, whose profile the app reads (SPEC §3).
        data["username"] = subject_user.get_username()
    return data


def _refresh_token_claims(raw: str, client: ConnectedApp) -> dict[str, Any] | None:
    refresh = (
        RefreshToken.objects.select_related("application", "user", "access_token")
        .filter(token_checksum=token_digest(raw), revoked__isnull=True)
        .first()
    )
    if refresh is None or refresh.application is None or refresh.access_token is None:
        return None
    app, user = refresh.application, refresh.user
    if user is None:
        return None
    expires = refresh.created + timedelta(seconds=settings.DOORMAN_REFRESH_TOKEN_LIFETIME)
    if expires <= timezone.now() or not app.enabled or not user_may_use_app(user, app):
        return None
    effective = set(refresh.access_token.scope.split()) & app_current_scopes(app)
    if not effective or not _visible_to(client, app, user.organization_id):
        return None
    return {
        "active": True,
        "scope": " ".join(sorted(effective)),
        "token_type": "refresh_token",
        "exp": _timestamp(expires),
        "iat": _timestamp(refresh.created),
        "sub": str(user.pk),
        "org_id": str(user.organization_id),
        "client_id": app.client_id,
        "username": user.get_username(),
    }


def _as_access_token(
    raw: str, client: ConnectedApp, *, read: GenerationRead | None = None
) -> dict[str, Any] | None:
    principal = access_token_resolve(raw, read=read)
    if principal is None:
        return None
    data = _access_token_claims(principal)
    return data if _visible_to(client, principal.app, data["org_id"]) else None


def token_introspect(
    raw: str,
    *,
    client: ConnectedApp,
    hint: str | None = None,
    read: GenerationRead | None = None,
) -> dict:
    """RFC 7662 §2.2 response for `raw` as seen by the authenticated `client`. The hint
    only orders the lookups (RFC 7662 §2.1). `read`: the generation the client was
    authenticated under (`token_read`), which the access token's memo is checked against."""
    if token_checksum(raw) is None:
        return dict(INACTIVE)
    lookups = [partial(_as_access_token, read=read), _refresh_token_claims]
    if hint == "refresh_token":
        lookups.reverse()
    for lookup in lookups:
        data = lookup(raw, client)
        if data is not None:
            return data
    return dict(INACTIVE)


MISSING_TOKEN = "Missing token parameter."  # noqa: S105 (a message)


def introspection_response(
    http: HttpRequest, params: dict[str, str], context: EndpointContext
) -> HttpResponse:
    """The introspection endpoint's answer (RFC 7662 §2): the caller authenticates as a
    client, by the token endpoint's methods (oauth.engine.clients), else invalid_client.
    Both the client's memo and the token's are checked against one read of the generation
    (`token_read`): one statement when this worker remembers both."""
    token = params.get("token")
    read = token_read(token)
    identity = client_identify(
        params,
        http.META.get("HTTP_AUTHORIZATION"),
        context.audiences,
        lookup=partial(app_named, read=read),
    )
    if identity.app is not None:
        context.client = identity.app
        context.authenticated = identity.authenticated
    if not identity.authenticated:
        context.refusal_recorded = True
        refusal_audit(
            context, InvalidClient.error, {"endpoint": "introspection"}, request_meta(http.META)
        )
        return InvalidClient().response()
    if not token:
        return InvalidRequest(MISSING_TOKEN).response()
    hint = params.get("token_type_hint")
    body = token_introspect(token, client=identity.app, hint=hint, read=read)
    return JsonResponse(body)
