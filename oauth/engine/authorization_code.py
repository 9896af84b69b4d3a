"""The authorization_code grant at the token endpoint (RFC 6749 §4.1.3, RFC 7636 §4.6; SPEC §5).

A code is stored as its digest, redeemed once (claimed in the writing statement), and a
replayed code revokes every token issued from it (its token family). PKCE with S256 is
required; the redirect_uri must be the authorization request's, exactly. The user's checks
(audience, deactivation, the org's controls) are made again at redemption, and the user's
live consent must still cover the code. One read decides (the code, its user, the user's org
controls and consent); one statement writes.
"""

from __future__ import annotations

import base64
import hashlib
import uuid

from django.utils import timezone
from django.utils.crypto import constant_time_compare

from accounts.catalog import SpecialScope
from accounts.sign_ins import SignIn
from connected_apps.models import Authorization, ConnectedApp, GrantType
from oauth.engine import sql
from oauth.engine.clients import client_for_grant
from oauth.engine.credentials import token_digest
from oauth.engine.facts import UserFacts, user_app_problem, user_facts_from, user_facts_sql
from oauth.engine.issue import Claim, ClaimLost, Issue, family_revoke_recorded, tokens_issue
from oauth.engine.request import TokenRequest, requested_resource
from oauth.errors import InvalidGrant, InvalidRequest, InvalidTarget
from oauth.models import Grant

MISSING_CODE = "Missing code parameter."
MISSING_VERIFIER = "Code verifier required."
MISSING_REDIRECT_URI = "Missing redirect URI."
REDIRECT_URI_MISMATCH = "redirect_uri does not match the authorization request."
CONSENT_GONE = "The user's consent to this app was revoked or no longer covers the code."
CODE_REPLAYED = "The authorization code was already used; the tokens issued from it are revoked."
REPLAY_REASON = "authorization_code_replay"


def consent_covers(consent: Authorization | None, app: ConnectedApp, scopes: list[str]) -> bool:
    """Whether the user's live consent still stands behind a code for `scopes`: there is
    one, given since the app's last consent reset, for every one of them."""
    if consent is None:
        return False
    reset = app.consent_reset_at
    return (reset is None or consent.updated_at >= reset) and set(scopes) <= set(consent.scopes)


def _read(code: str, app_pk: int) -> tuple[Grant, UserFacts, Authorization | None] | None:
    """The app's code stored under the code's digest, with its user, the user's org controls
    and the user's live consent to the app: one statement."""
    q = sql.quote
    facts_select, facts_joins = user_facts_sql("g.user_id", "g.application_id")
    statement = (
        f"SELECT {sql.select_list(Grant, 'g')}, {facts_select}, "
        f"{sql.select_list(Authorization, 'a')} FROM {sql.table(Grant)} g "
        f"{facts_joins} LEFT JOIN {sql.table(Authorization)} a "
        f"ON a.{q('user_id')} = g.{q('user_id')} AND a.{q('app_id')} = g.{q('application_id')} "
        f"AND a.{q('revoked_at')} IS NULL "
        f"WHERE g.{q('code')} = %s AND g.{q('application_id')} = %s"
    )
    rows = sql.fetch_all(statement, [token_digest(code), app_pk])
    if not rows:
        return None
    row = rows[0]
    width, consent_width = sql.width(Grant), sql.width(Authorization)
    consent = sql.instance_from(Authorization, row[-consent_width:])
    facts = user_facts_from(row[width:-consent_width])
    return sql.instance_from(Grant, row[:width]), facts, consent


def s256(verifier: str) -> str:
    """RFC 7636 §4.2: BASE64URL(SHA256(ASCII(code_verifier))), unpadded."""
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class AuthorizationCodeGrant:
    grant_type = GrantType.AUTHORIZATION_CODE.value

    def validate_token_request(self, req: TokenRequest) -> Issue:
        code = req.params.get("code")
        if code is None:
            raise InvalidRequest(MISSING_CODE)
        app = client_for_grant(req, self.grant_type, public_allowed=True)
        found = _read(code, app.pk)
        if found is None:
            raise InvalidGrant()
        grant, facts, consent = found
        if grant.used_at is not None:
            # RFC 6749 §4.1.2: a code used twice revokes the tokens issued from it.
            family_revoke_recorded(req, grant.token_family, REPLAY_REASON)
            raise InvalidGrant()
        user = facts.user
        if grant.is_expired() or user_app_problem(user, app, gate=facts.gate(app)):
            raise InvalidGrant()
        # Revoking a consent deletes its codes; one stored a moment after (its request read
        # the consent before the revocation) must not outlive it either.
        if not consent_covers(consent, app, grant.scope.split()):
            raise InvalidGrant(CONSENT_GONE)
        req.user_is(user)
        self._check_verifier(req, grant)
        self._check_redirect_uri(req, grant, app)
        scopes = grant.scope.split(" ")
        now = timezone.now()
        family = uuid.uuid4()
        return Issue(
            app=app,
            user=user,
            scopes=scopes,
            family=family,
            # SPEC §3/§5: a refresh token only with offline_access, to an app registered for it.
            refresh_token=GrantType.REFRESH_TOKEN in app.grant_types
            and SpecialScope.OFFLINE_ACCESS in scopes,
            claim=Claim(
                model=Grant,
                pk=grant.pk,
                unused="used_at",
                assignments={"used_at": now, "token_family": family},
            ),
            nonce=grant.nonce or None,
            sign_in=SignIn(auth_time=grant.auth_time, amr=tuple(grant.amr or ()))
            if grant.auth_time is not None
            else None,
            resource=self._resource(req, grant),
            signing_kid=facts.signing_kid,
        )

    def _check_verifier(self, req: TokenRequest, grant: Grant) -> None:
        """RFC 7636 §4.6 (RFC 9700 §2.1.1: S256 only, always)."""
        verifier = req.params.get("code_verifier")
        if not grant.code_challenge:
            if verifier is None:
                raise InvalidRequest(MISSING_VERIFIER)
            raise InvalidGrant("Challenge not found")
        if verifier is None:
            raise InvalidRequest(MISSING_VERIFIER)
        if grant.code_challenge_method != "S256":
            raise InvalidGrant("Challenge method not found")
        if not constant_time_compare(s256(verifier), grant.code_challenge):
            raise InvalidGrant()

    def _check_redirect_uri(self, req: TokenRequest, grant: Grant, app) -> None:
        """RFC 6749 §4.1.3: identical to the authorization request's; when the request names
        none, the app's only registered URI (DOT's default_redirect_uri)."""
        redirect_uri = req.params.get("redirect_uri")
        if redirect_uri is None:
            registered = app.redirect_uris.split()
            if len(registered) != 1:
                raise InvalidRequest(MISSING_REDIRECT_URI)
            redirect_uri = registered[0]
        if not grant.redirect_uri_allowed(redirect_uri):
            raise InvalidGrant(REDIRECT_URI_MISMATCH)

    def _resource(self, req: TokenRequest, grant: Grant) -> list[str]:
        """RFC 8707 §2.2: the authorization's resources, or the one of them the request
        names (a request may narrow them, never widen them)."""
        granted = list(grant.resource or [])
        named = requested_resource(req)
        if named and granted and named[0] not in granted:
            raise InvalidTarget(
                f"The requested resource '{named[0][:200]}' is not allowed. Token request "
                "cannot escalate resource permissions beyond the original authorization grant"
            )
        return named or granted

    def create_token_response(self, req: TokenRequest, issue: Issue) -> dict:
        try:
            return tokens_issue(req, issue)
        except ClaimLost:
            # Redeemed by a concurrent request first: a replay, which revokes what it issued.
            family = (
                Grant.objects.filter(pk=issue.claim.pk)
                .values_list("token_family", flat=True)
                .first()
            )
            family_revoke_recorded(req, family, REPLAY_REASON, user=issue.user)
            raise InvalidGrant(CODE_REPLAYED) from None
