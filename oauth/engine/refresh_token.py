"""The refresh_token grant (RFC 6749 §6, RFC 9700 §4.14.2; SPEC §5, §10).

A refresh token rotates on every use; a rotated (or revoked) one presented again revokes its
whole family. It lives DOORMAN_REFRESH_TOKEN_LIFETIME from issuance, and DOT's sliding
expiry (REFRESH_TOKEN_EXPIRE_SECONDS after its access token's) too. A refresh keeps the
user's checks: audience, deactivation, the org's controls, and (allowlist on) only the
scopes the org approved. One read decides (`_read`); one statement writes (issue.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from django.conf import settings
from django.utils import timezone

from connected_apps.controls import SCOPES_NONE_APPROVED
from connected_apps.models import GrantType
from oauth.engine import sql
from oauth.engine.clients import client_for_grant
from oauth.engine.credentials import token_digest
from oauth.engine.facts import UserFacts, user_app_problem, user_facts_from, user_facts_sql
from oauth.engine.issue import Claim, ClaimLost, Issue, family_revoke_recorded, tokens_issue
from oauth.engine.request import TokenRequest, requested_resource
from oauth.errors import (
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    InvalidTarget,
)
from oauth.models import AccessToken, RefreshToken

MISSING = "Missing refresh token parameter."
REFRESH_TOKEN_REUSED = "The refresh token was already used; its token family is revoked."  # noqa: S105


@dataclass
class _Found:
    refresh: RefreshToken
    access: AccessToken | None
    facts: UserFacts


@lru_cache(maxsize=1)
def _read_sql() -> str:
    q = sql.quote
    facts_select, facts_joins = user_facts_sql("rt.user_id", "rt.application_id")
    return (
        f"SELECT {sql.select_list(RefreshToken, 'rt')}, {sql.select_list(AccessToken, 'at')}, "
        f"{facts_select} FROM {sql.table(RefreshToken)} rt "
        f"LEFT JOIN {sql.table(AccessToken)} at ON at.{q('id')} = rt.{q('access_token_id')} "
        f"{facts_joins} WHERE rt.{q('token_checksum')} = %s "
        f"ORDER BY CASE WHEN rt.{q('revoked')} IS NULL THEN 0 ELSE 1 END, "
        f"rt.{q('revoked')} DESC LIMIT 2"
    )


def _read(raw: str) -> list[_Found]:
    """Every row (at most two) stored under the token's digest, live first, each with its
    access token, user and the user's org controls: one statement."""
    a = sql.width(RefreshToken)
    b = a + sql.width(AccessToken)
    return [
        _Found(
            refresh=sql.instance_from(RefreshToken, row[:a]),
            access=sql.instance_from(AccessToken, row[a:b]),
            facts=user_facts_from(row[b:]),
        )
        for row in sql.fetch_all(_read_sql(), [token_digest(raw)])
    ]


def _resource(req: TokenRequest, refresh: RefreshToken) -> list[str]:
    """RFC 8707 §2.2: the refresh token's resources, or the one of them the request names."""
    held = list(refresh.resource or [])
    named = requested_resource(req)
    if not named or not held:
        return named or held
    if named[0] not in held:
        raise InvalidTarget(
            "Token refresh cannot request resources beyond the original refresh token's."
        )
    return named


class RefreshTokenGrant:
    grant_type = GrantType.REFRESH_TOKEN.value

    def validate_token_request(self, req: TokenRequest) -> Issue:
        raw = req.params.get("refresh_token")
        if raw is None:
            raise InvalidRequest(MISSING)
        app = client_for_grant(req, self.grant_type, public_allowed=True)
        rows = _read(raw)
        if rows and all(found.refresh.revoked is not None for found in rows):
            # RFC 9700 §4.14.2: a rotated or revoked refresh token used again.
            family_revoke_recorded(req, rows[0].refresh.token_family, "refresh_token_reuse")
            raise InvalidGrant()
        if not rows:
            raise InvalidGrant()
        found = rows[0]
        refresh, access = found.refresh, found.access
        now = timezone.now()
        if access is None or refresh.application_id != app.pk:
            raise InvalidGrant()
        expire_delta = timedelta(seconds=settings.OAUTH2_PROVIDER["REFRESH_TOKEN_EXPIRE_SECONDS"])
        if access.expires + expire_delta <= now:  # DOT's sliding expiry
            raise InvalidGrant()
        lifetime = timedelta(seconds=settings.DOORMAN_REFRESH_TOKEN_LIFETIME)
        if refresh.created + lifetime <= now:  # absolute, from issuance
            raise InvalidGrant()
        user = found.facts.user
        if user is not None:
            gate = found.facts.gate(app)
            problem = user_app_problem(user, app, gate=gate)
            if problem:  # audience, deactivated user, or the org's controls (SPEC §6)
                raise InvalidGrant(problem)
            req.user_is(user)
            original = access.scope.split()
            if gate.approved_scopes is not None:  # SPEC §6: only what the org approved
                original = [scope for scope in original if scope in gate.approved_scopes]
                if not original:
                    raise InvalidGrant(SCOPES_NONE_APPROVED)
        else:
            original = access.scope.split()
        scopes = original
        requested = req.params.get("scope")
        if requested:
            scopes = requested.strip().split(" ")
            if not all(scope in original for scope in scopes):
                raise InvalidScope()
        return Issue(
            app=app,
            user=user,
            scopes=scopes,
            family=refresh.token_family,
            refresh_token=True,
            claim=Claim(
                model=RefreshToken,
                pk=refresh.pk,
                unused="revoked",
                assignments={"revoked": now, "updated": now, "access_token_id": None},
                drops_access_id=refresh.access_token_id,
            ),
            source_refresh_token_id=refresh.pk,
            resource=_resource(req, refresh),
            signing_kid=found.facts.signing_kid,
        )

    def create_token_response(self, req: TokenRequest, issue: Issue) -> dict:
        try:
            return tokens_issue(req, issue)
        except ClaimLost:
            # Rotated by a concurrent request first: a reuse (RFC 9700 §4.14.2).
            family_revoke_recorded(req, issue.family, "refresh_token_reuse", user=issue.user)
            raise InvalidGrant(REFRESH_TOKEN_REUSED) from None
