"""The password grant (RFC 6749 §4.3; SPEC §5, §10): throttled, asked of an app only when it
is registered for it (an app that is not must never learn whether a password is right), the
user's checks (audience, deactivation, org controls) before anything is issued. The tokens
start a family of their own; the user's access through the app is recorded as an
Authorization (no consent screen saw it), widened only when the scopes grow."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.db import connection, transaction

from accounts.factors import SECOND_FACTOR_NEEDED, SSO_NEEDED, password_alone_refused
from accounts.models import User
from connected_apps.models import Authorization, GrantType
from oauth.engine import sql
from oauth.engine.clients import client_authenticate
from oauth.engine.facts import UserFacts, sign_in_policy_sql, user_facts_from, user_facts_sql
from oauth.engine.issue import Issue, tokens_issue
from oauth.engine.request import TokenRequest
from oauth.engine.scopes import user_sign_in
from oauth.errors import (
    InteractionRequired,
    InvalidGrant,
    InvalidRequest,
    TemporarilyUnavailable,
    UnauthorizedClient,
)
from oauth.ratelimit import limit_address
from oauth.scopes import ConnectedAppScopes
from oauth.services import authorization_grant
from oauth.throttle import login_throttle_check, login_throttle_failure, login_throttle_success

SCOPES = ConnectedAppScopes()
INVALID_CREDENTIALS = "Invalid credentials given."


def _facts(user: User, app_pk: int) -> tuple[UserFacts, list[str] | None, bool, str | None, bool]:
    """The user's org controls for the app, the scopes of the user's live authorization of
    it (None without one), whether the user has a second factor, what their org's
    sign-in policy requires of factors (None without one) and whether it enforces SSO: one
    statement."""
    q = sql.quote
    facts_select, facts_joins = user_facts_sql("u0.id", "%s")
    policy_select, policy_params = sign_in_policy_sql(f"u0.{q('id')}", f"u0.{q('organization_id')}")
    statement = (
        f"SELECT {facts_select}, (SELECT a.{q('scopes')} FROM {sql.table(Authorization)} a "
        f"WHERE a.{q('user_id')} = u0.{q('id')} AND a.{q('app_id')} = %s "
        f"AND a.{q('revoked_at')} IS NULL), {policy_select} "
        f"FROM {sql.table(User)} u0 {facts_joins} WHERE u0.{q('id')} = %s"
    )
    row = sql.fetch_all(statement, [app_pk, *policy_params, app_pk, user.pk])[0]
    held, second_factor, requirement, sso = row[-4], bool(row[-3]), row[-2], bool(row[-1])
    if held is not None:
        field = Authorization._meta.get_field("scopes")
        held = field.from_db_value(held, None, connection)
    return user_facts_from(row[:-4]), held, second_factor, requirement, sso


class PasswordGrant:
    grant_type = GrantType.PASSWORD.value

    def validate_token_request(self, req: TokenRequest) -> Issue:
        identity = client_authenticate(
            req.params, req.authorization, req.context.audiences, public_allowed=True
        )
        req.client_is(identity)
        app = identity.app
        for name in ("username", "password"):
            if not req.params.get(name):
                raise InvalidRequest(f"Request is missing {name} parameter.")
        if self.grant_type not in app.grant_types:
            raise UnauthorizedClient()  # before the password is looked at
        user = self._user(req)
        facts, held, enrolled, requirement, sso_enforced = _facts(user, app.pk)
        if sso_enforced:
            raise InteractionRequired(SSO_NEEDED)
        if password_alone_refused(user, enrolled=enrolled, requirement=requirement):
            raise InteractionRequired(SECOND_FACTOR_NEEDED)
        return user_sign_in(
            req,
            app,
            user,
            facts,
            refresh_token=GrantType.REFRESH_TOKEN in app.grant_types,
            authorization_scopes=held,
        )

    def _user(self, req: TokenRequest) -> User:
        """The active user the credentials name, throttled (oauth.throttle)."""
        username, password = req.params["username"], req.params["password"]
        address = limit_address(req.http.META)
        refusal = login_throttle_check(username=username, address=address)
        if refusal is not None:
            req.context.retry_after = refusal.retry_after
            throttled = TemporarilyUnavailable(refusal.description, status_code=refusal.status)
            throttled.retry_after = refusal.retry_after
            raise throttled
        user = (
            None
            if "\x00" in username
            else authenticate(req.http, username=username, password=password)
        )
        if user is None or not user.is_active:
            login_throttle_failure(username=username, address=address)
            raise InvalidGrant(INVALID_CREDENTIALS)
        login_throttle_success(username=username, address=address)
        return user

    def create_token_response(self, req: TokenRequest, issue: Issue) -> dict:
        return tokens_issue_recording_authorization(req, issue)


def tokens_issue_recording_authorization(req: TokenRequest, issue: Issue) -> dict:
    """Password and jwt-bearer tokens have no consent screen, yet the user now has access
    through the app: it is recorded as an Authorization (so My apps lists it, revoking it
    kills the tokens, and usage counts the user), in the tokens' transaction. Only widened
    consent is written; otherwise the tokens are the one statement they always are."""
    held = issue.authorization_scopes
    if held is not None and set(issue.scopes) <= set(held):
        return tokens_issue(req, issue)
    with transaction.atomic():
        authorization_grant(user=issue.user, app=issue.app, scopes=issue.scopes, meta=req.meta)
        return tokens_issue(req, issue)
