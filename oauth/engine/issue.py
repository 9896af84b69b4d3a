"""Issuing tokens: the response body (RFC 6749 §5.1), the optional ID token (OIDC Core
§3.1.3.3, §12.2), and the one writer that records a grant's outcome.

On PostgreSQL a grant's whole outcome is one statement: the claim (a refresh token rotated,
an authorization code used) as a data-modifying WITH clause that every insert depends on,
then the new access token, refresh token, the user's authorization stamp and the audit
event. A claim that finds its row already taken (a concurrent rotation, a replayed code)
inserts nothing, and the caller treats the request as a replay. Elsewhere (SQLite) the same
rows are written one statement at a time in a transaction.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Model
from django.utils import timezone

from accounts.catalog import SpecialScope
from accounts.models import User
from accounts.sign_ins import SignIn
from audit.models import AuditAction, AuditEvent
from connected_apps.models import Authorization, ConnectedApp
from connected_apps.usage import usage_record_token_issued
from oauth.engine import sql
from oauth.engine.id_tokens import id_token_sign
from oauth.engine.request import TokenRequest
from oauth.issuance import token_event_record, token_event_values
from oauth.models import AccessToken, IDToken, RefreshToken
from oauth.services import token_family_revoke
from oauth.tokens import generate_token, token_stored_values


@dataclass
class Claim:
    """A single-use row the grant consumes, in the writing statement. Either an existing row
    (a refresh token rotated, an authorization code used): `model`'s row `pk`, taken only
    while `unused` (a nullable column) is still null, by setting `assignments`;
    `drops_access_id` is an access token that goes with it (the rotated refresh token's).
    Or a new row (an assertion's jti): `insert`, taken unless a row with the same `unique`
    value exists whose `unused` column (an expiry) is not yet before `reclaimable_before`."""

    model: type[Model]
    pk: int | None
    unused: str
    assignments: dict[str, Any]
    drops_access_id: int | None = None
    insert: dict[str, Any] | None = None
    unique: str | None = None
    reclaimable_before: Any = None


class NotWritten(Exception):
    """The write's condition did not hold (nothing was written)."""


class ClaimLost(NotWritten):
    """Someone else claimed the row first: the request is a replay (nothing was written)."""


@dataclass
class Issue:
    """What a grant decided to issue."""

    app: ConnectedApp
    user: User | None
    scopes: list[str]
    family: uuid.UUID | None
    refresh_token: bool
    claim: Claim | None = None
    source_refresh_token_id: int | None = None  # DOT's link from a refresh's new access token
    resource: list = field(default_factory=list)
    nonce: str | None = None  # the authentication request's, for the ID token
    signing_kid: str | None = None  # the active signing key's, as read with the grant
    only_if: tuple[str, list] | None = None  # an SQL condition the write needs (PostgreSQL)
    authorization_scopes: list[str] | None = None  # the user's live authorization's, if read
    federated: Any = None  # jwt-bearer: the user the assertion names (accounts.FederatedUser)
    sign_in: SignIn | None = None  # how the user had authenticated, for the ID token (a code's)


def tokens_issue(req: TokenRequest, issue: Issue) -> dict[str, Any]:
    """Write the grant's outcome and return the token response's body."""
    lifetime = settings.OAUTH2_PROVIDER["ACCESS_TOKEN_EXPIRE_SECONDS"]
    scope = " ".join(issue.scopes)
    body: dict[str, Any] = {
        "access_token": generate_token(),
        "expires_in": lifetime,
        "token_type": "Bearer",
        "scope": scope,
    }
    if issue.refresh_token:
        body["refresh_token"] = generate_token()
    id_token = None
    if issue.user is not None and SpecialScope.OPENID in issue.scopes:
        id_token = id_token_sign(
            req,
            app=issue.app,
            user=issue.user,
            scopes=issue.scopes,
            access_token=body["access_token"],
            nonce=issue.nonce,
            signing_kid=issue.signing_kid,
            sign_in=issue.sign_in,
        )
        body["id_token"] = id_token.value
    now = timezone.now()
    rows = _rows(req, issue, body, scope, now, lifetime, id_token)
    if not _write(issue, rows, now):
        raise ClaimLost() if issue.claim is not None else NotWritten()
    usage_record_token_issued(app=issue.app)  # today's count and last_used_at (SPEC §2 usage)
    return body


def _rows(req, issue, body, scope, now, lifetime, id_token) -> dict[str, dict]:
    user_id = issue.user.pk if issue.user is not None else None
    access = sql.row_values(
        AccessToken,
        {
            **token_stored_values(body["access_token"]),
            "user_id": user_id,
            "application_id": issue.app.pk,
            "scope": scope,
            "expires": now + timedelta(seconds=lifetime),
            "token_family": issue.family,
            "id_token_id": None,  # the new ID token's: set by the writer
            "source_refresh_token_id": issue.source_refresh_token_id,
            "resource": issue.resource,
        },
        now,
    )
    rows = {"access": access}
    if id_token is not None:
        rows["id_token"] = sql.row_values(
            IDToken,
            {
                "user_id": user_id,
                "application_id": issue.app.pk,
                "jti": id_token.jti,
                "expires": id_token.expires,
                "scope": scope,
            },
            now,
        )
    if issue.refresh_token:
        rows["refresh"] = sql.row_values(
            RefreshToken,
            {
                **token_stored_values(body["refresh_token"]),
                "user_id": user_id,
                "application_id": issue.app.pk,
                "access_token_id": None,  # the new access token's: set by the writer
                "token_family": issue.family,
                "resource": issue.resource,
            },
            now,
        )
    refreshed = req.grant_type == "refresh_token"
    rows["event"] = sql.row_values(
        AuditEvent,
        token_event_values(
            action=AuditAction.TOKEN_REFRESHED if refreshed else AuditAction.TOKEN_ISSUED,
            app=issue.app,
            user=issue.user,
            details={
                "grant_type": req.grant_type,
                "scope": scope,
                "refresh_token_issued": issue.refresh_token,
            },
            meta=req.meta,
        ),
        now,
    )
    return rows


def _write(issue: Issue, rows: dict[str, dict], now) -> bool:
    if connection.vendor != "postgresql":
        return _write_in_steps(issue, rows, now)
    if not connection.in_atomic_block:
        return _write_one_statement(issue, rows, now)
    with transaction.atomic():  # a savepoint: a failed statement spoils no caller's transaction
        return _write_one_statement(issue, rows, now)


def _write_one_statement(issue: Issue, rows: dict[str, dict], now) -> bool:
    q = sql.quote
    clauses, params = [], []
    # What the first inserts select from, and its parameters (after each insert's own): the
    # claimed row, or the condition a remembered app must still meet.
    source, source_params = "", []
    claim = issue.claim
    if claim is not None and claim.insert is not None:
        claim_sql, claim_params = claim_clause(claim)
        clauses.append(claim_sql)
        params += claim_params
        source = " FROM claimed"
    elif claim is not None:
        assignments = ", ".join(f"{q(column)} = %s" for column in claim.assignments)
        clauses.append(
            f"claimed AS (UPDATE {sql.table(claim.model)} SET {assignments} "
            f"WHERE {q('id')} = %s AND {q(claim.unused)} IS NULL RETURNING {q('id')})"
        )
        params += [*claim.assignments.values(), claim.pk]
        if claim.drops_access_id is not None:
            clauses.append(
                f"dropped AS (DELETE FROM {sql.table(AccessToken)} WHERE {q('id')} = %s "
                f"AND EXISTS (SELECT 1 FROM claimed))"
            )
            params.append(claim.drops_access_id)
        source = " FROM claimed"
    elif issue.only_if is not None:
        condition, source_params = issue.only_if
        source = f" WHERE {condition}"
    access = rows["access"]
    if "id_token" in rows:
        id_sql, id_params = sql.insert_values(IDToken, rows["id_token"])
        clauses.append(
            f"new_id AS (INSERT INTO {sql.table(IDToken)} {id_sql}{source} RETURNING {q('id')})"
        )
        params += [*id_params, *source_params]
        access = {**access, "id_token_id": sql.Expression("(SELECT id FROM new_id)")}
    access_sql, access_params = sql.insert_values(AccessToken, access)
    clauses.append(
        f"new_access AS (INSERT INTO {sql.table(AccessToken)} {access_sql}{source} "
        f"RETURNING {q('id')})"
    )
    params += [*access_params, *source_params]
    last = "new_access"
    if "refresh" in rows:
        refresh = {**rows["refresh"], "access_token_id": sql.Expression("new_access.id")}
        refresh_sql, refresh_params = sql.insert_values(RefreshToken, refresh)
        clauses.append(
            f"new_refresh AS (INSERT INTO {sql.table(RefreshToken)} {refresh_sql} "
            f"FROM new_access RETURNING {q('id')})"
        )
        params += refresh_params
        last = "new_refresh"
    if issue.user is not None:
        clauses.append(
            f"stamped AS (UPDATE {sql.table(Authorization)} SET {q('last_used_at')} = %s "
            f"WHERE {q('user_id')} = %s AND {q('app_id')} = %s AND {q('revoked_at')} IS NULL "
            f"AND EXISTS (SELECT 1 FROM {last}))"
        )
        params += [now, issue.user.pk, issue.app.pk]
    event_sql, event_params = sql.insert_values(AuditEvent, rows["event"])
    params += event_params
    statement = (
        f"WITH {', '.join(clauses)} INSERT INTO {sql.table(AuditEvent)} {event_sql} "
        f"FROM {last} RETURNING 1"
    )
    return sql.execute(statement, params) == 1


def _write_in_steps(issue: Issue, rows: dict[str, dict], now) -> bool:
    with transaction.atomic():
        claim = issue.claim
        if claim is not None and claim.insert is not None:
            if not claim_row(claim):
                return False
        elif claim is not None:
            unused = claim.model.objects.filter(pk=claim.pk, **{f"{claim.unused}__isnull": True})
            if not unused.update(**claim.assignments):
                return False
            if claim.drops_access_id is not None:
                AccessToken.objects.filter(pk=claim.drops_access_id).delete()
        access = AccessToken(**rows["access"])
        if "id_token" in rows:
            id_token = IDToken(**rows["id_token"])
            id_token.save(force_insert=True)
            access.id_token_id = id_token.pk
        access.save(force_insert=True)
        if "refresh" in rows:
            RefreshToken(**{**rows["refresh"], "access_token_id": access.pk}).save(
                force_insert=True
            )
        if issue.user is not None:
            Authorization.objects.filter(
                user_id=issue.user.pk, app_id=issue.app.pk, revoked_at=None
            ).update(last_used_at=now)
        AuditEvent(**rows["event"]).save(force_insert=True)
    return True


def claim_clause(claim: Claim) -> tuple[str, list]:
    """(`claimed AS (INSERT … ON CONFLICT …)`, parameters): a new single-use row as a
    data-modifying WITH clause (PostgreSQL), returning its id when it was taken."""
    q = sql.quote
    table = sql.table(claim.model)
    values_sql, values_params = sql.insert_values(claim.model, claim.insert)
    replaced = ", ".join(f"{q(column)} = EXCLUDED.{q(column)}" for column in claim.insert)
    statement = (
        f"claimed AS (INSERT INTO {table} {values_sql} ON CONFLICT ({q(claim.unique)}) "
        f"DO UPDATE SET {replaced} WHERE {table}.{q(claim.unused)} < %s "
        f"RETURNING {q('id')})"
    )
    return statement, [*values_params, claim.reclaimable_before]


def claim_row(claim: Claim) -> bool:
    """Take a new single-use row (`claim.insert`) with the ORM: whether it was taken."""
    try:
        with transaction.atomic():
            claim.model.objects.create(**claim.insert)
        return True
    except IntegrityError:
        expired = {claim.unique: claim.insert[claim.unique]}
        expired[f"{claim.unused}__lt"] = claim.reclaimable_before
        return claim.model.objects.filter(**expired).update(**claim.insert) == 1


def family_revoke_recorded(
    req: TokenRequest, family: uuid.UUID | None, reason: str, *, user: User | None = None
) -> None:
    """Revoke a token family (SPEC §10) and, when anything in it was live, record it (with
    the user whose grant was replayed, when the request got that far)."""
    if not token_family_revoke(family):
        return  # nothing was live: no event for every replay of a dead token
    token_event_record(
        action=AuditAction.TOKEN_REVOKED,
        app=req.identity.app if req.identity else None,
        user=user,
        details={"reason": reason, "grant_type": req.grant_type},
        meta=req.meta,
    )


def response_json(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()
