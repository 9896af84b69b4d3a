"""The client_credentials grant (RFC 6749 §4.4): machine-to-machine traffic's hot path.

A confidential client authenticates (Basic, body credentials or private_key_jwt), must be
registered for the grant, and its owner org must have connected apps on (SPEC §6); it gets
the scopes it asks for among those it holds now, or its defaults (never offline access or
openid). The token has no user and no family, and no refresh token.

An app this worker remembers is used without asking whether it is still current: the insert
carries the condition that the app generation still holds the value it was remembered under
(oauth.principal_cache), so a stale memory issues nothing, and the request is decided again
on current facts. One statement in all, on PostgreSQL.
"""

from __future__ import annotations

from django.db import IntegrityError

from connected_apps.controls import FEATURE_DISABLED_FOR_OWNER
from connected_apps.models import ConnectedApp, GrantType
from oauth import principal_cache
from oauth.engine.clients import (
    CLIENT_ID_SHAPE,
    app_named,
    client_authenticate,
    token_endpoint_app,
)
from oauth.engine.credentials import basic_credentials
from oauth.engine.issue import Issue, NotWritten, tokens_issue
from oauth.engine.request import TokenRequest, requested_resource
from oauth.errors import InvalidScope, OAuthError, UnauthorizedClient
from oauth.scopes import ConnectedAppScopes

SCOPES = ConnectedAppScopes()
CREATOR_REMOVED = (
    "The user who created this app was removed or disabled: an app acting on its own behalf "
    "acts with its creator's profile, so it gets no token."
)


class ClientCredentialsGrant:
    grant_type = GrantType.CLIENT_CREDENTIALS.value

    def validate_token_request(self, req: TokenRequest, *, lookup=app_named) -> Issue:
        identity = client_authenticate(
            req.params,
            req.authorization,
            req.context.audiences,
            public_allowed=False,
            lookup=lookup,
        )
        req.client_is(identity)
        app = identity.app
        if self.grant_type not in app.grant_types:
            raise UnauthorizedClient()
        if app.acts_for_nobody(creator_active=app.doorman_creator_active):
            # SPEC §3: its tokens would act with its creator's profile, and there is none.
            raise UnauthorizedClient(CREATOR_REMOVED)
        if not app.doorman_owner_enabled:
            # SPEC §6: the owner org switched connected apps off (RFC 6749 §5.2).
            raise UnauthorizedClient(FEATURE_DISABLED_FOR_OWNER)
        requested = req.params.get("scope")
        if requested is None:
            scopes = SCOPES.get_default_scopes(app)
        else:
            scopes = requested.strip().split(" ")  # oauthlib's scope_to_list
            if not set(scopes) <= set(SCOPES.get_available_scopes(app)):
                raise InvalidScope()
        return Issue(
            app=app,
            user=None,
            scopes=scopes,
            family=None,
            refresh_token=False,
            resource=requested_resource(req),
        )

    def create_token_response(self, req: TokenRequest, issue: Issue) -> dict:
        return tokens_issue(req, issue)

    def respond(self, req: TokenRequest) -> dict:
        """The token response's body: on what this worker remembers of the app when that
        issues a token, else decided on current facts (raising the refusal)."""
        remembered = _remembered(req)
        if remembered is not None:
            try:
                issue = self.validate_token_request(req, lookup=remembered.app)
                issue.only_if = remembered.condition
                return self.create_token_response(req, issue)
            except (OAuthError, NotWritten, IntegrityError):
                # Refused, or stale (the app changed, or went away): decide on current facts.
                req.context.client = req.context.user = None
                req.context.authenticated = False
        issue = self.validate_token_request(req)
        return self.create_token_response(req, issue)


class _Remembered:
    def __init__(self, app: ConnectedApp, condition: tuple[str, list]) -> None:
        self._app, self.condition = app, condition

    def app(self, client_id: object) -> ConnectedApp | None:
        return self._app if client_id == self._app.client_id and self._app.enabled else None


def _remembered(req: TokenRequest) -> _Remembered | None:
    """The app the request names as this worker remembers it, with the SQL condition that
    it is still current (PostgreSQL only); None when it remembers nothing usable."""
    if not principal_cache.enabled() or "client_assertion_type" in req.params:
        # An assertion's jti is consumed when checked: such a request is decided once.
        return None
    client_id = req.params.get("client_id")
    if client_id is None:
        credentials = basic_credentials(req.authorization)
        client_id = credentials[0] if credentials else None
    if not isinstance(client_id, str) or not CLIENT_ID_SHAPE.fullmatch(client_id):
        return None
    entry = principal_cache.app_facts.recent(client_id)
    condition = entry and principal_cache.app_generation_is(entry.generation)
    if not condition:
        return None
    return _Remembered(token_endpoint_app(entry.value), condition)
