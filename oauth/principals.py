"""What a bearer token may do, decided afresh on every request (SPEC §3).

A token's effective power is (scopes granted to the token) ∩ (scopes the app holds now) ∩
(what the user may do now). Removing a scope, disabling or deleting an app, revoking an
authorization or taking a permission from a user takes effect on the very next request: what a
worker remembers of a token (oauth.principal_cache) is trusted only while the database's
generation, which any such change advances in its own transaction, is the one it was computed
under and the token's row is still there; permissions are read afresh by every request.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property

from django.utils import timezone

from accounts.access import Access
from accounts.catalog import Permission, SpecialScope
from accounts.models import Organization, User
from connected_apps.controls import org_apps_enabled, org_gate
from connected_apps.models import AppScope, Audience, ConnectedApp
from oauth import principal_cache
from oauth.engine.credentials import token_digest
from oauth.models import AccessToken


class AppAccess(Access):
    """The power of an own-behalf (client_credentials) token: the app's scopes now, in their
    contexts, inside its owner's org tree only, narrowed by the token's own scopes. It is
    never an administrator of anything."""

    def __init__(
        self, app: ConnectedApp, creator: User | None, scopes: frozenset[str] | None
    ) -> None:
        # SPEC §3: the token's own scopes narrow the app's contexts (a token minted with
        # `scope=read:users` cannot use manage:users where the app holds it).
        super().__init__(user=creator, scopes=scopes)  # type: ignore[arg-type]
        self.app = app

    @cached_property
    def admin_paths(self) -> tuple[str, ...]:
        return ()

    def _load_grants(self) -> dict[uuid.UUID, dict[str, set[uuid.UUID | None]]]:
        grants: dict[uuid.UUID, dict[str, set[uuid.UUID | None]]] = defaultdict(
            lambda: defaultdict(set)
        )
        rows = AppScope.objects.filter(app=self.app, context_org__isnull=False).values_list(
            "context_org_id", "scope", "context_environment_id"
        )
        for org_id, scope, environment_id in rows:
            if scope in Permission.values:
                grants[org_id][scope].add(environment_id)
        return grants

    @property
    def root_org_id(self) -> uuid.UUID:
        return self.app.root_org_id

    @property
    def audit_actor(self) -> dict:
        return {"actor": None, "actor_app": self.app}

    def is_admin_of(self, org: Organization) -> bool:
        return False


class UserThroughAppAccess(Access):
    """A user's power through a token an app holds for them. The app makes the API call, so
    a write is audited as the user's through the app: it is in the app's history too (SPEC
    §4, the audit log's `client_id` filter)."""

    def __init__(self, user: User, scopes: frozenset[str], app: ConnectedApp) -> None:
        super().__init__(user=user, scopes=scopes)
        self.app = app

    @property
    def audit_actor(self) -> dict:
        return {"actor": self.user, "actor_app": self.app}


@dataclass
class TokenPrincipal:
    """A live access token and what it may do on this request."""

    token: AccessToken
    app: ConnectedApp | None
    user: User | None
    effective_scopes: frozenset[str]

    @property
    def is_app_token(self) -> bool:
        """An own-behalf (client_credentials) token: the app acts, no user behind it."""
        return self.token.user_id is None and self.app is not None

    @property
    def request_user(self) -> User | None:
        """The user DRF sees: the token's user, or for an app token the app's creator (whose
        profile the app reads, SPEC §3)."""
        return self.app.user if self.is_app_token else self.user

    @cached_property
    def access(self) -> Access:
        if self.is_app_token:
            return AppAccess(self.app, self.app.user, self.effective_scopes)
        if self.app is not None:
            return UserThroughAppAccess(self.user, self.effective_scopes, self.app)
        return Access(user=self.user, scopes=self.effective_scopes)

    def allows(self, scope: str) -> bool:
        """Whether a non-permission scope (`profile`, `email`, `openid`) is in effect."""
        return scope in self.effective_scopes or SpecialScope.FULL in self.effective_scopes


def app_current_scopes(app: ConnectedApp) -> frozenset[str]:
    """The scopes an app holds now; own-behalf apps always hold `profile` (SPEC §3)."""
    scopes = set(AppScope.objects.filter(app=app).values_list("scope", flat=True))
    if app.acts_on_own_behalf:
        scopes.add(SpecialScope.PROFILE)
    return frozenset(scopes)


def access_token_resolve(
    raw: str, *, read: principal_cache.GenerationRead | None = None
) -> TokenPrincipal | None:
    """The live principal behind a raw access token, or None (→ `invalid_token`).

    None when the token is unknown, expired or revoked; its app is disabled or deleted; its
    user is inactive or, for an `internal` app, no longer a member of the owner's root org;
    or the app no longer holds any of the scopes the token was granted; or the user's root org
    switched connected apps off, or allowlists none of the token's scopes for this app.

    The answer for a live token is kept per worker (oauth.principal_cache) and trusted only
    while nothing it depends on has changed: one statement instead of three queries, none
    when the request's `read` of the generation (`token_read`) already told.
    """
    checksum = token_checksum(raw)
    if checksum is None:
        return None
    if principal_cache.enabled():
        entry = principal_cache.lookup(checksum, read)
        if entry is not None:
            return _principal_rebuild(entry.value)
    principal, generation = _principal_load(checksum)
    if principal is not None and principal_cache.enabled():
        principal_cache.principals.put(
            checksum, generation, _principal_snapshot(principal), principal.token.expires
        )
    return principal


def token_checksum(raw: str) -> str | None:
    """The checksum `raw` would be stored under; None for what cannot be a token."""
    if not raw or len(raw) > 512 or "\x00" in raw:
        return None
    return token_digest(raw)


def token_read(raw: str | None) -> principal_cache.GenerationRead:
    """The generation read for a request that authenticates a client, then resolves `raw`
    (introspection): one statement for both memos (principal_cache.GenerationRead)."""
    return principal_cache.GenerationRead(token_checksum(raw or ""))


def _principal_snapshot(principal: TokenPrincipal) -> tuple:
    # An app token acts for the app's creator (`request_user`), read with the token.
    creator = principal.app.user if principal.is_app_token else None
    return (
        principal_cache.model_snapshot(principal.token),
        principal_cache.model_snapshot(principal.app),
        principal_cache.model_snapshot(principal.user),
        principal.effective_scopes,
        principal_cache.model_snapshot(creator),
    )


def _principal_rebuild(snapshot: tuple) -> TokenPrincipal | None:
    token_data, app_data, user_data, effective, creator_data = snapshot
    token = principal_cache.model_restore(token_data)
    if token.expires <= timezone.now():
        return None
    app = principal_cache.model_restore(app_data)
    user = principal_cache.model_restore(user_data)
    token.application, token.user = app, user
    if creator_data is not None:
        app.user = principal_cache.model_restore(creator_data)
    return TokenPrincipal(token=token, app=app, user=user, effective_scopes=effective)


def _principal_load(checksum: str) -> tuple[TokenPrincipal | None, int | None]:
    """The principal from the database, and the generation read with the token's row (so
    before everything else the principal depends on)."""
    found = (
        AccessToken.objects.select_related("application__user", "user")
        .filter(token_checksum=checksum)
        .annotate(doorman_generation=principal_cache.generation_expression())[:1]
    )
    token = found[0] if found else None
    if token is None:
        return None, None
    return _principal_decide(token), token.doorman_generation


def _principal_decide(token: AccessToken) -> TokenPrincipal | None:
    if token.expires <= timezone.now():
        return None
    user, app = token.user, token.application
    if user is not None and not user.is_active:
        return None
    granted = frozenset(token.scope.split())
    if app is None:  # a user's own platform token (POST /accounts/login)
        if user is None:
            return None
        return TokenPrincipal(token=token, app=None, user=user, effective_scopes=granted)
    if not app.enabled:
        return None
    creator_active = app.user.is_active if app.user_id is not None else None
    if user is None and app.acts_for_nobody(creator_active=creator_active):
        return None  # SPEC §3: an app token acts with its creator's profile; none is left
    if (
        user is not None
        and app.audience == Audience.INTERNAL
        and user.organization_id != app.root_org_id
    ):
        return None
    if user is None and not org_apps_enabled(org_id=app.root_org_id):
        return None  # SPEC §6: the owner org switched connected apps off
    effective = granted & app_current_scopes(app)
    if user is not None and effective:
        # SPEC §6: the user's root org may have switched apps off, or allowlists this one
        # with an approved scope set (frozenset() when refused outright).
        approved = org_gate(user=user, app=app).approved_scopes
        if approved is not None:
            effective &= approved
    if not effective:
        return None
    return TokenPrincipal(token=token, app=app, user=user, effective_scopes=effective)
