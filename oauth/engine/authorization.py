"""The authorization endpoint's read and its one writer (RFC 6749 §4.1.1-§4.1.2; SPEC §5, §6).

- `consent_facts`: in one statement, what decides whether a signed-in user gets a code
  without the consent screen: the user's root org controls for the app (its settings row's
  switches, the allowlist entry's approved scopes) and the scopes of the user's live consent
  (an Authorization not older than the app's `consent_reset_at`).
- `code_store`: the only code that writes an authorization code, as its SHA-256 digest: the
  consent screen's Allow (through oauthlib's `save_authorization_code`) and a remembered
  consent (`code_issue`) both come here. One INSERT.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any

from django.db import connection
from django.utils import timezone
from oauth2_provider.oauth2_validators import _parse_and_validate_uri
from oauth2_provider.settings import oauth2_settings

from accounts.sign_ins import SignIn
from connected_apps.controls import OrgGate, org_gate_decide
from connected_apps.models import AllowlistEntry, Authorization, ConnectedApp, OrgAppSettings
from oauth.engine import sql
from oauth.engine.credentials import token_digest
from oauth.engine.facts import sign_in_policy_sql
from oauth.errors import InvalidTarget
from oauth.models import Grant
from oauth.tokens import generate_token

INVALID_RESOURCE = (
    "The resource '{resource}' is not a valid resource indicator: it must be an absolute URI "
    "with a scheme and host."
)


@dataclass(frozen=True)
class ConsentFacts:
    gate: OrgGate  # the user's root org controls for the app
    consented: frozenset[str] | None  # the live consent's scopes; None without one
    enrolled: bool  # the user has a second factor
    requirement: str | None  # the user's org's sign-in policy's mfa_required (None: no row)
    sso_enforced: bool = False  # the policy says its members sign in through SSO only


# The sign-in policy's columns, on the user id and the org id (twice) given as parameters.
_POLICY_SELECT, _POLICY_PARAMS = sign_in_policy_sql("%s", "%s")


@lru_cache(maxsize=4)
def _consent_sql(since_reset: bool) -> str:
    q = sql.quote
    reset = f" AND a.{q('updated_at')} >= %s" if since_reset else ""
    return (
        f"SELECT s.{q('enabled')}, s.{q('allowlist_enabled')}, al.{q('id')}, "
        f"al.{q('approved_scopes')}, "
        f"(SELECT a.{q('scopes')} FROM {sql.table(Authorization)} a "
        f"WHERE a.{q('user_id')} = %s AND a.{q('app_id')} = %s "
        f"AND a.{q('revoked_at')} IS NULL{reset} ORDER BY a.{q('id')} LIMIT 1), "
        f"{_POLICY_SELECT} "
        f"FROM (SELECT 1) one "
        f"LEFT JOIN {sql.table(OrgAppSettings)} s ON s.{q('organization_id')} = %s "
        f"LEFT JOIN {sql.table(AllowlistEntry)} al ON al.{q('organization_id')} = %s "
        f"AND al.{q('app_id')} = %s"
    )


def _json(model: type, attname: str, value: Any) -> Any:
    return model._meta.get_field(attname).from_db_value(value, None, connection)


def consent_facts(user, app: ConnectedApp) -> ConsentFacts:
    """The user's org controls for `app` and the user's live consent to it: one statement."""
    since_reset = app.consent_reset_at is not None
    params: list[Any] = [user.pk, app.pk]
    if since_reset:
        params.append(app.consent_reset_at)
    params += [user.pk, *_POLICY_PARAMS, user.organization_id, user.organization_id]
    params += [user.organization_id, user.organization_id, app.pk]
    row = sql.fetch_all(_consent_sql(since_reset), params)[0]
    enabled, allowlist_enabled, entry_id, approved, consented, enrolled, requirement, sso = row
    gate = org_gate_decide(
        app=app,
        org_id=user.organization_id,
        switches=None if enabled is None else (bool(enabled), bool(allowlist_enabled)),
        approved=_json(AllowlistEntry, "approved_scopes", approved) if entry_id else None,
    )
    if consented is not None:
        consented = frozenset(_json(Authorization, "scopes", consented))
    return ConsentFacts(
        gate=gate,
        consented=consented,
        enrolled=bool(enrolled),
        requirement=requirement,
        sso_enforced=bool(sso),
    )


def resource_indicators(values: list[str]) -> list[str]:
    """RFC 8707 §2: the authorization request's `resource` parameters, each an absolute URI
    with a scheme and host (as DOT and the token endpoint check them)."""
    for value in values:
        if _parse_and_validate_uri(value) is None:
            raise InvalidTarget(INVALID_RESOURCE.format(resource=value[:200]))
    return list(values)


def code_store(
    *,
    code: str,
    app: ConnectedApp,
    user,
    redirect_uri: str,
    scopes: list[str],
    code_challenge: str | None,
    code_challenge_method: str | None,
    nonce: str | None,
    claims: dict | None,
    resource: list[str] | None,
    sign_in: SignIn | None = None,
) -> None:
    """Store the authorization code `code` (its digest) for `user` and `app`, with how the
    user had signed in (`sign_in`, for the ID token): one INSERT."""
    now = timezone.now()
    values = sql.row_values(
        Grant,
        {
            "user_id": user.pk,
            "code": token_digest(code),
            "application_id": app.pk,
            "expires": now + timedelta(seconds=oauth2_settings.AUTHORIZATION_CODE_EXPIRE_SECONDS),
            "redirect_uri": redirect_uri,
            "scope": " ".join(scopes),
            "code_challenge": code_challenge or "",
            "code_challenge_method": code_challenge_method or "",
            "nonce": nonce or "",
            "claims": json.dumps(claims or {}),
            "resource": list(resource or []),
            "auth_time": sign_in.auth_time if sign_in is not None else None,
            "amr": list(sign_in.amr) if sign_in is not None else [],
        },
        now,
    )
    columns, params = sql.insert_values(Grant, values)
    sql.execute(f"INSERT INTO {sql.table(Grant)} {columns}", params)


def code_issue(**grant: Any) -> str:
    """A new authorization code, stored (`code_store`'s arguments but the code)."""
    code = generate_token()
    code_store(code=code, **grant)
    return code
