"""Client authentication at the token endpoint (RFC 6749 §2.3.1, §3.2.1; RFC 7523 §2.2):
one rule for every grant, for the engine's grants and for DOT's validator alike.

A client presents one of: a `client_assertion` (private_key_jwt), HTTP Basic credentials,
or `client_id` + `client_secret` in the body (Basic is tried first; when it fails, the body,
as DOT does). A confidential client must present one; a public client names itself by
`client_id` alone, and proves nothing but the grant it holds. A `client_id` in the body that
names another app than the credentials is a failed authentication. The app must exist and
be enabled.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth.hashers import check_password, identify_hasher
from django.db.models import F
from django.utils.crypto import constant_time_compare

from connected_apps.controls import org_apps_enabled
from connected_apps.models import AppScope, ConnectedApp
from oauth import principal_cache
from oauth.engine.assertions import (
    CLIENT_ASSERTION_MAX_LIFETIME_SECONDS,
    CLIENT_ASSERTION_TYPE,
    AssertionRejected,
    assertion_consume,
    assertion_issuer,
    assertion_verify,
)
from oauth.engine.credentials import basic_credentials
from oauth.errors import InvalidClient, UnauthorizedClient
from oauth.hashers import ClientSecretHasher

# SPEC §2: client ids are 32 lowercase hex characters; nothing else can name an app.
CLIENT_ID_SHAPE = re.compile(r"[0-9a-f]{32}")
SECRET_HASHER = ClientSecretHasher()


@dataclass
class ClientIdentity:
    """Who a request says it is from. `app` is the app it names (None: no such usable app),
    `authenticated` whether it proved it (a public client never does)."""

    app: ConnectedApp | None
    authenticated: bool


def token_endpoint_app_load(
    client_id: str, *, read: principal_cache.GenerationRead | None = None
) -> ConnectedApp | None:
    """The app named `client_id` as the token endpoint needs it: with `doorman_scope_names`
    (what it holds now), `doorman_owner_enabled` (its owner org's feature switch) and
    `doorman_creator_active` (whether its creator is still enabled; read in the app's
    statement, so no round trip more). A fresh
    instance each time; from this worker's memo while the app generation (the request's
    `read` of it, when it has one) holds, else 3 queries."""
    generation = None
    if principal_cache.enabled():
        generation = principal_cache.app_generation_current(read)
    entry = principal_cache.app_facts.get(client_id, generation)
    if entry is not None:
        return token_endpoint_app(entry.value)
    app = (
        ConnectedApp.objects.filter(client_id=client_id)
        .annotate(doorman_creator_active=F("user__is_active"))
        .order_by()[:1]
    )
    if not app:
        return None
    app = app[0]
    snapshot = principal_cache.model_snapshot(app)
    scope_names = frozenset(AppScope.objects.filter(app=app).values_list("scope", flat=True))
    owner_enabled = org_apps_enabled(org_id=app.root_org_id)
    facts = (snapshot, scope_names, owner_enabled, app.doorman_creator_active)
    principal_cache.app_facts.put(client_id, generation, facts)
    return token_endpoint_app(facts)


def token_endpoint_app(facts: tuple) -> ConnectedApp:
    """A fresh app instance from what `token_endpoint_app_load` remembers of it."""
    snapshot, scope_names, owner_enabled, creator_active = facts
    app = principal_cache.model_restore(snapshot)
    app.doorman_scope_names = scope_names
    app.doorman_owner_enabled = owner_enabled
    app.doorman_creator_active = creator_active
    return app


def app_named(
    client_id: object, *, read: principal_cache.GenerationRead | None = None
) -> ConnectedApp | None:
    """The usable app `client_id` names, as the token endpoint needs it (this worker's memo
    while the app generation holds, as `token_endpoint_app_load` reads it): None for an
    unknown, disabled or impossible id."""
    if not isinstance(client_id, str) or not CLIENT_ID_SHAPE.fullmatch(client_id):
        return None
    app = token_endpoint_app_load(client_id, read=read)
    return app if app is not None and app.enabled else None


def secret_matches(presented: str, stored: str) -> bool:
    """Constant-time: Doorman's keyed digest, else whatever Django hasher stored it, else a
    plain value (DOT's `_check_secret`)."""
    if stored.startswith(f"{SECRET_HASHER.algorithm}$"):
        return SECRET_HASHER.verify(presented, stored)
    try:
        identify_hasher(stored)
    except ValueError:
        return constant_time_compare(presented, stored)
    return check_password(presented, stored)


def client_identify(
    params: dict[str, str],
    authorization: str | None,
    audiences: frozenset[str],
    *,
    lookup: Callable[[object], ConnectedApp | None] = app_named,
) -> ClientIdentity:
    """The app a token-endpoint request is from and whether it authenticated (see the
    module's rules), apps found by `lookup`. Never raises: the caller decides what an
    unproven client may do."""
    client_id = params.get("client_id") or None
    if params.get("client_assertion_type") is not None:
        app = private_key_jwt_app(params, audiences, lookup=lookup)
        if app is None:
            return ClientIdentity(lookup(assertion_issuer(params.get("client_assertion"))), False)
        return ClientIdentity(app, True)
    basic = basic_credentials(authorization) if authorization else None
    secret = params.get("client_secret")
    named: ConnectedApp | None = None
    if basic is not None:
        named = lookup(basic[0])
        if named is not None and secret_matches(basic[1], named.client_secret):
            return _matching(named, client_id)
    if client_id and secret:
        named = lookup(client_id)
        if named is not None and secret_matches(secret, named.client_secret):
            return _matching(named, client_id)
        return ClientIdentity(named, False)
    if basic is not None or (authorization or "").startswith("Basic "):
        return ClientIdentity(named, False)
    return ClientIdentity(lookup(client_id), False)


def _matching(app: ConnectedApp, client_id: str | None) -> ClientIdentity:
    # A body client_id naming another app than the credentials: not authenticated.
    return ClientIdentity(app, client_id is None or client_id == app.client_id)


def client_authenticate(
    params: dict[str, str],
    authorization: str | None,
    audiences: frozenset[str],
    *,
    public_allowed: bool,
    lookup: Callable[[object], ConnectedApp | None] = app_named,
) -> ClientIdentity:
    """The app, authenticated, or (with `public_allowed`, for the code and refresh grants) a
    public app that named itself. Raises InvalidClient with the identity it found."""
    identity = client_identify(params, authorization, audiences, lookup=lookup)
    app = identity.app
    if identity.authenticated:
        return identity
    presented = (
        authorization is not None
        or params.get("client_secret")
        or params.get("client_assertion_type") is not None
    )
    public = app is not None and app.client_type != ConnectedApp.CLIENT_CONFIDENTIAL
    if public_allowed and public and not presented:
        return identity
    raise ClientRefused(identity)


class ClientRefused(InvalidClient):
    def __init__(self, identity: ClientIdentity) -> None:
        super().__init__()
        self.identity = identity


def private_key_jwt_app(
    params: dict[str, str],
    audiences: frozenset[str],
    *,
    lookup: Callable[[object], ConnectedApp | None] = app_named,
) -> ConnectedApp | None:
    """RFC 7523 §2.2 / §3: the app whose registered key signed `client_assertion`, with
    iss = sub = its client_id (and the body's `client_id`, when sent), for one of
    `audiences`, seen once (its jti is consumed). None when any of that fails."""
    if params.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
        return None
    assertion = params.get("client_assertion")
    issuer = assertion_issuer(assertion)
    client_id = params.get("client_id")
    if issuer is None or (client_id and client_id != issuer):
        return None
    app = lookup(issuer)
    if app is None:
        return None
    try:
        claims = assertion_verify(
            assertion, app, audiences, max_lifetime=CLIENT_ASSERTION_MAX_LIFETIME_SECONDS
        )
    except AssertionRejected:
        return None
    if claims["sub"] != issuer:
        return None
    return app if assertion_consume(app, claims) else None


def client_for_grant(req, grant_type: str, *, public_allowed: bool) -> ConnectedApp:
    """The app a token request is from (`client_authenticate`), told to the endpoint, and
    registered for `grant_type` (else unauthorized_client, RFC 6749 §5.2)."""
    identity = client_authenticate(
        req.params, req.authorization, req.context.audiences, public_allowed=public_allowed
    )
    req.client_is(identity)
    if grant_type not in identity.app.grant_types:
        raise UnauthorizedClient()
    return identity.app
