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

from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts.models import User
from connected_apps.controls import SCOPES_NONE_APPROVED, org_gate_decide
from connected_apps.models import AllowlistEntry, GrantType, OrgAppSettings
from oauth.engine import sql
from oauth.engine.clients import client_authenticate
from oauth.engine.credentials import token_digest
from oauth.engine.issue import Issue, family_revoke_recorded, tokens_issue
from oauth.engine.request import TokenRequest
from oauth.errors import (
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    InvalidTarget,
    UnauthorizedClient,
)
from oauth.models import AccessToken, RefreshToken
from oauth.validators.common import user_app_problem

MISSING = "Missing refresh token parameter."


@dataclass
class _Found:
    refresh: RefreshToken
    access: AccessToken | None
    user: User | None
    switches: tuple[bool, bool] | None
    approved: list[str] | None


def _read_sql() -> str:
    q = sql.quote
    rt, at, user = "rt", "at", "u"
    settings_table, allowlist = sql.table(OrgAppSettings), sql.table(AllowlistEntry)
    return (
        f"SELECT {sql.select_list(RefreshToken, rt)}, {sql.select_list(AccessToken, at)}, "
        f"{sql.select_list(User, user)}, s.{q('enabled')}, s.{q('allowlist_enabled')}, "
        f"al.{q('id')}, al.{q('approved_scopes')} "
        f"FROM {sql.table(RefreshToken)} {rt} "
        f"LEFT JOIN {sql.table(AccessToken)} {at} ON {at}.{q('id')} = {rt}.{q('access_token_id')} "
        f"LEFT JOIN {sql.table(User)} {user} ON {user}.{q('id')} = {rt}.{q('user_id')} "
        f"LEFT JOIN {settings_table} s ON s.{q('organization_id')} = {user}.{q('organization_id')} "
        f"LEFT JOIN {allowlist} al ON al.{q('organization_id')} = {user}.{q('organization_id')} "
        f"AND al.{q('app_id')} = {rt}.{q('application_id')} "
        f"WHERE {rt}.{q('token_checksum')} = %s "
        f"ORDER BY CASE WHEN {rt}.{q('revoked')} IS NULL THEN 0 ELSE 1 END, "
        f"{rt}.{q('revoked')} DESC LIMIT 2"
    )


def _read(raw: str) -> list[_Found]:
    """Every row (at most two) stored under the token's digest, live first, each with its
    access token, user and the user's org controls: one statement."""
    widths = [sql.width(RefreshToken), sql.width(AccessToken), sql.width(User)]
    approved_field = AllowlistEntry._meta.get_field("approved_scopes")
    found = []
    for row in sql.fetch_all(_read_sql(), [token_digest(raw)]):
        a, b = widths[0], widths[0] + widths[1]
        c = b + widths[2]
        enabled, allowlist_enabled, entry_id, approved = row[c : c + 4]
        if entry_id is not None:
            approved = approved_field.from_db_value(approved, None, connection)
        found.append(
            _Found(
                refresh=sql.instance_from(RefreshToken, row[:a]),
                access=sql.instance_from(AccessToken, row[a:b]),
                user=sql.instance_from(User, row[b:c]),
                switches=None if enabled is None else (bool(enabled), bool(allowlist_enabled)),
                approved=approved if entry_id is not None else None,
            )
        )
    return found


def _resource(req: TokenRequest, refresh: RefreshToken) -> list[str]:
    """RFC 8707 §2.2: the refresh token's resources, or the one of them the request names."""
    held = list(refresh.resource or [])
    named = req.params.get("resource")
    if not named:
        return held
    if named not in held:
        raise InvalidTarget(
            "Token refresh cannot request resources beyond the original refresh token's."
        )
    return [named]


class RefreshTokenGrant:
    grant_type = GrantType.REFRESH_TOKEN.value

    def validate_token_request(self, req: TokenRequest) -> Issue:
        raw = req.params.get("refresh_token")
        if raw is None:
            raise InvalidRequest(MISSING)
        identity = client_authenticate(
            req.params, req.authorization, req.context.audiences, public_allowed=True
        )
        req.client_is(identity)
        app = identity.app
        if self.grant_type not in app.grant_types:
            raise UnauthorizedClient()
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
        user = found.user
        if user is not None:
            gate = org_gate_decide(
                app=app,
                org_id=user.organization_id,
                switches=found.switches,
                approved=found.approved,
            )
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
            rotating=refresh,
            rotating_access_id=refresh.access_token_id,
            resource=_resource(req, refresh),
        )

    def create_token_response(self, req: TokenRequest, issue: Issue) -> dict:
        return tokens_issue(req, issue)
