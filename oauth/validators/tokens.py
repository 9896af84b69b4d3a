"""Refresh tokens, issuing and revocation (RFC 6749 §6, RFC 7009 §2.1, RFC 9700 §4.14.2).

Saving a token is where single use is decided, under a lock, inside the issuing transaction:
a code or refresh token that someone else claimed first is a replay. The replay is refused
after the rollback, so that revoking its family is kept.
"""

from __future__ import annotations

import uuid
from contextvars import ContextVar

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from oauthlib.oauth2.rfc6749 import errors

from accounts.catalog import SpecialScope
from audit.models import AuditAction
from connected_apps.models import Authorization, ConnectedApp, GrantType
from connected_apps.usage import usage_record_token_issued
from oauth.issuance import request_meta, token_event_record
from oauth.models import AccessToken, Grant, RefreshToken
from oauth.services import access_tokens_revoke, authorization_grant
from oauth.validators.common import (
    CODE_REPLAYED,
    FamilyReplay,
    revoke_family_recorded,
    token_checksum,
)

# The family of the tokens being saved, from `_save_bearer_token` to DOT's `_set_token_value`
# (per thread or task: one validator serves every request of a process).
_issuing_family: ContextVar[uuid.UUID | None] = ContextVar("doorman_issuing_family", default=None)


def _token_family_for(request) -> uuid.UUID | None:
    if request.user is None or request.grant_type == GrantType.CLIENT_CREDENTIALS:
        return None
    if request.grant_type == "authorization_code":
        return request.doorman_token_family
    return uuid.uuid4()  # a password or jwt-bearer sign-in starts a family


class TokenValidatorMixin:
    # -- issuing -----------------------------------------------------------------------------
    def save_bearer_token(self, token, request, *args, **kwargs):
        self._apply_refresh_token_policy(token, request)
        try:
            with transaction.atomic():
                self._claim(request)
                result = self._save_bearer_token(token, request, *args, **kwargs)
                self._record_issued(token, request)
        except FamilyReplay as replay:
            family = replay.family
            if replay.grant_pk is not None:
                family = (
                    Grant.objects.filter(pk=replay.grant_pk)
                    .values_list("token_family", flat=True)
                    .first()
                )
            revoke_family_recorded(request, family, reason=replay.reason)
            raise errors.InvalidGrantError(
                description=replay.description, request=request
            ) from None
        return result

    def _apply_refresh_token_policy(self, token, request) -> None:
        """SPEC §3/§5: a code-flow app gets a refresh token only with offline_access; the
        password grant only for apps registered for refresh_token; cc and jwt-bearer never.
        oauthlib serialises this same dict after save_token, so popping it is enough."""
        if "refresh_token" not in token:
            return
        grant_type = request.grant_type
        keep = GrantType.REFRESH_TOKEN in request.client.grant_types and (
            grant_type in ("refresh_token", "password")
            or (
                grant_type == "authorization_code"
                and SpecialScope.OFFLINE_ACCESS in (request.scopes or [])
            )
        )
        if not keep:
            token.pop("refresh_token")

    def _claim(self, request) -> None:
        """Single use, decided under a lock: concurrent redemptions of one code issue tokens
        once; the loser is a replay. (Refresh tokens: oauth.engine.refresh_token.)"""
        if request.grant_type == "authorization_code":
            grant = request.doorman_grant
            family = uuid.uuid4()
            claimed = Grant.objects.filter(pk=grant.pk, used_at__isnull=True).update(
                used_at=timezone.now(), token_family=family
            )
            if claimed != 1:
                raise FamilyReplay(CODE_REPLAYED, "authorization_code_replay", grant_pk=grant.pk)
            request.doorman_token_family = family  # what the code's tokens join

    # -- token families (SPEC §10) -----------------------------------------------------------
    def _save_bearer_token(self, token, request, *args, **kwargs):
        """Every token a user grant issues joins a family from its first issue: the code's
        (claimed in _claim), the refresh token's being rotated, or a new one for a password or
        jwt-bearer sign-in. client_credentials tokens have none. DOT builds each token and
        sets its value (`_set_token_value`) just before inserting it: the family is written
        there, with the insert, rather than by an UPDATE afterwards."""
        family = _token_family_for(request)
        issuing = _issuing_family.set(family)
        try:
            return super()._save_bearer_token(token, request, *args, **kwargs)
        finally:
            _issuing_family.reset(issuing)

    def _set_token_value(self, token_instance, raw_token: str) -> None:
        super()._set_token_value(token_instance, raw_token)
        family = _issuing_family.get()
        if family is not None:
            token_instance.token_family = family

    def _record_issued(self, token, request) -> None:
        app = request.client
        usage_record_token_issued(app=app)  # today's count and last_used_at (SPEC §2 usage)
        self._record_direct_authorization(token, request)
        if request.user is not None:  # My apps shows when the user's authorization was used
            Authorization.objects.filter(user=request.user, app=app, revoked_at=None).update(
                last_used_at=timezone.now()
            )
        refreshed = request.grant_type == "refresh_token"
        token_event_record(
            action=AuditAction.TOKEN_REFRESHED if refreshed else AuditAction.TOKEN_ISSUED,
            app=app,
            user=request.user,
            details={
                "grant_type": request.grant_type,
                "scope": token.get("scope", ""),
                "refresh_token_issued": "refresh_token" in token,
            },
            meta=request_meta(request.headers),
        )

    def _record_direct_authorization(self, token, request) -> None:
        """Password and jwt-bearer tokens have no consent screen, yet the user now has access
        through the app: record it as an Authorization, so My apps lists it, revoking it kills
        the tokens, and usage counts the user. Only widened consent is written."""
        if request.user is None or request.grant_type not in (
            GrantType.PASSWORD,
            GrantType.JWT_BEARER,
        ):
            return
        scopes = set(token.get("scope", "").split())
        held = (
            Authorization.objects.filter(user=request.user, app=request.client, revoked_at=None)
            .values_list("scopes", flat=True)
            .first()
        )
        if held is None or not scopes <= set(held):
            authorization_grant(
                user=request.user,
                app=request.client,
                scopes=scopes,
                meta=request_meta(request.headers),
            )

    # -- revocation (RFC 7009 §2.1; SPEC §10) -----------------------------------------------
    def revoke_token(self, token, token_type_hint, request, *args, **kwargs) -> None:
        """Only the calling app's tokens. Whichever token is named, its whole family goes
        with it (every access and refresh token its grant started), on every worker; a
        client_credentials token, which has no family, goes alone. The hint is only a hint:
        both kinds are looked up."""
        app = request.client
        if not isinstance(app, ConnectedApp) or not token:
            return
        lookup = {"token_checksum": token_checksum(token), "application_id": app.pk}
        named = (
            RefreshToken.objects.filter(**lookup)
            .select_related("user")
            .order_by(F("revoked").desc(nulls_first=True))
            .first()
        )
        token_type = "refresh_token"  # noqa: S105 (a token type, not a secret)
        if named is None:
            named = AccessToken.objects.filter(**lookup).select_related("user").first()
            token_type = "access_token"  # noqa: S105
        if named is None:
            return
        if isinstance(named, AccessToken):
            live = access_tokens_revoke(tokens=AccessToken.objects.filter(pk=named.pk))
        elif named.token_family:
            live = RefreshToken.revoke_family(named.token_family)
        else:  # DOT gives every refresh token a family; this one predates that
            live = named.revoked is None
            named.revoke()
        if live:
            token_event_record(
                action=AuditAction.TOKEN_REVOKED,
                app=app,
                user=named.user,
                details={"reason": "revocation_request", "token_type": token_type},
                meta=request_meta(request.headers),
            )
