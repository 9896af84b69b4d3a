"""The jwt-bearer grant (RFC 7523 §2.1, §3; SPEC §5): an assertion signed by one of the app's
registered keys names the user as `v2|<idp_id>|<username>|…`. The user is found only through
their link to that identity provider, or created just in time and linked; the assertion
reaches only users whoever controls the app could reach anyway (`assertion_reach`). No
refresh token. Every `jti` is used once, consumed as soon as the assertion's signature is
verified, before anything the request itself chooses (its scope, its resource) is looked at:
an assertion seen once is dead, whatever was answered (RFC 7523 §3, SPEC §5).

One statement consumes the jti and reads what decides (provider, its org, the app's owner
org, the reach approval, the linked user or whether the username is taken, the user's org
controls, the user's authorization of the app); a user already linked costs one more (their
power lies within the reach); one statement writes. A user created or changed by the
assertion is written in the tokens' transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import (
    FederatedIdentity,
    IdentityProvider,
    IdentityProviderType,
    Organization,
    User,
)
from accounts.selectors import user_power_within
from accounts.services import (
    FederatedUser,
    federated_fields,
    federated_user_decide,
    federated_user_save,
)
from connected_apps.models import (
    AllowlistEntry,
    Authorization,
    ConnectedApp,
    GrantType,
    OrgAppSettings,
)
from oauth.engine import sql
from oauth.engine.assertions import (
    ASSERTION_LEEWAY_SECONDS,
    AssertionRejected,
    assertion_issuer,
    assertion_verify,
    federated_subject_parse,
    jti_digest,
)
from oauth.engine.clients import ClientIdentity, app_named, client_authenticate
from oauth.engine.facts import UserFacts, user_facts_from, user_facts_sql
from oauth.engine.issue import Claim, Issue, claim_clause, claim_row
from oauth.engine.password import tokens_issue_recording_authorization
from oauth.engine.request import TokenRequest
from oauth.engine.scopes import user_sign_in
from oauth.errors import InvalidClient, InvalidGrant, InvalidRequest, UnauthorizedClient
from oauth.models import UsedAssertion

FEDERATED_SUBJECT_FORMAT = (
    "sub must be v2|<idp_id>|<username>|<firstname>|<lastname>|<email>|<externalgroups>."
)
FEDERATED_USER_CONCURRENT = (
    "Another request created this user at the same moment; retry with a new assertion."
)
PROVIDER_NOT_APPROVED = (
    "The identity provider is outside the app's organization, and its organization has not "
    "approved this app."
)
USER_POWER_OUTSIDE = (
    "The user holds permissions outside the identity provider's organization; an assertion "
    "cannot sign them in."
)
FEDERATED_USER_REFUSALS = {
    "username_invalid": "The username in sub is not a valid username.",
    "email_invalid": "The email in sub is not a valid email address.",
    "name_invalid": "A name in sub is too long or contains control characters.",
    "username_taken": "The username belongs to an account the provider is not linked to.",
    "inactive": "The user is deactivated.",
}
MISSING_ASSERTION = "Missing assertion parameter."
NOT_A_JWT = "The assertion is not a JWT with an iss claim."
ISSUER_NOT_CLIENT = "The assertion's iss must be the authenticated client."
JTI_USED = "The assertion's jti was already used."
UNKNOWN_PROVIDER = "Unknown identity provider."


def assertion_reach(
    provider_org: Organization, owner: Organization | None, approved: bool
) -> Organization | None:
    """SPEC §5: an assertion is the app's word alone, with no consent from the user, so it
    reaches only users whoever controls the app could reach anyway. Returns the org within
    which an asserted user's roles and permissions must all lie, or None when the app may
    not assert the provider's users at all:
    - a provider of the app's owner org or of a BG below it (never a parent's or a
      sibling's): users whose power lies within the provider's org;
    - another tenant's provider, once that tenant approved the app on an allowlist it
      enforces (`approved`; its approved scopes then apply): only users holding nothing
      there, since the power lies within the app's owner org, which is in another tree."""
    if owner is None:
        return None
    if provider_org.root_id_or_self == owner.root_id_or_self:
        return provider_org if provider_org.path.startswith(owner.path) else None
    return owner if approved else None


@dataclass
class _Found:
    fresh: bool  # the jti was not seen before (this statement consumed it)
    provider: IdentityProvider | None
    owner: Organization | None
    reach_approved: bool
    username_taken: bool
    facts: UserFacts
    authorization_scopes: list[str] | None


def _read(provider_id: uuid.UUID, username: str, app: ConnectedApp, jti: Claim) -> _Found:
    """Consume the jti and read everything the decision needs (module docstring): one
    statement on PostgreSQL (the jti's INSERT a data-modifying WITH clause, which runs to
    completion whatever the rest finds); elsewhere the jti first, then the read."""
    q = sql.quote
    provider_root = f"COALESCE(po.{q('root_id')}, po.{q('id')})"
    facts_select, facts_joins = user_facts_sql(
        f"fi.{q('user_id')}", "%s", f"COALESCE(u.{q('organization_id')}, {provider_root})"
    )
    if connection.vendor == "postgresql":
        claim_sql, claim_params = claim_clause(jti)
        head, fresh = f"WITH {claim_sql} ", "(SELECT count(*) FROM claimed) > 0"
    else:
        claim_params, head = [], ""
        fresh = "TRUE" if claim_row(jti) else "FALSE"
    statement = (
        f"{head}SELECT {fresh}, "
        f"{sql.select_list(IdentityProvider, 'p')}, {sql.select_list(Organization, 'po')}, "
        f"{sql.select_list(Organization, 'oo')}, "
        f"EXISTS (SELECT 1 FROM {sql.table(OrgAppSettings)} rs "
        f"WHERE rs.{q('organization_id')} = {provider_root} AND rs.{q('allowlist_enabled')}) "
        f"AND EXISTS (SELECT 1 FROM {sql.table(AllowlistEntry)} ra "
        f"WHERE ra.{q('organization_id')} = {provider_root} AND ra.{q('app_id')} = %s), "
        f"fi.{q('id')} IS NULL AND EXISTS (SELECT 1 FROM {sql.table(User)} ut "
        f"WHERE UPPER(ut.{q('username')}) = UPPER(%s)), "
        f"(SELECT a.{q('scopes')} FROM {sql.table(Authorization)} a "
        f"WHERE a.{q('user_id')} = fi.{q('user_id')} AND a.{q('app_id')} = %s "
        f"AND a.{q('revoked_at')} IS NULL), "
        f"{facts_select} "
        f"FROM (SELECT 1 AS one) one "
        f"LEFT JOIN {sql.table(IdentityProvider)} p ON p.{q('id')} = %s "
        f"LEFT JOIN {sql.table(Organization)} po ON po.{q('id')} = p.{q('organization_id')} "
        f"LEFT JOIN {sql.table(Organization)} oo ON oo.{q('id')} = %s "
        f"LEFT JOIN {sql.table(FederatedIdentity)} fi ON fi.{q('provider_id')} = p.{q('id')} "
        f"AND UPPER(fi.{q('subject')}) = UPPER(%s) "
        f"{facts_joins}"
    )
    params = [
        *claim_params,
        app.pk,
        username,
        app.pk,
        provider_id,
        app.owner_org_id,
        username,
        app.pk,
    ]
    row = sql.fetch_all(statement, params)[0]
    a = 1 + sql.width(IdentityProvider)
    b = a + sql.width(Organization)
    c = b + sql.width(Organization)
    provider = sql.instance_from(IdentityProvider, row[1:a])
    if provider is not None:
        provider.organization = sql.instance_from(Organization, row[a:b])
    approved, taken, held = row[c : c + 3]
    if held is not None:
        held = Authorization._meta.get_field("scopes").from_db_value(held, None, connection)
    return _Found(
        fresh=bool(row[0]),
        provider=provider,
        owner=sql.instance_from(Organization, row[b:c]),
        reach_approved=bool(approved),
        username_taken=bool(taken),
        facts=user_facts_from(row[c + 3 :]),
        authorization_scopes=held,
    )


def _jti_claim(app: ConnectedApp, claims: dict) -> Claim:
    """RFC 7523 §3 item 7: the assertion's jti, recorded until the assertion expires; taken
    again only once that record expired (the purge task deletes such records)."""
    now = timezone.now()
    expires_at = datetime.fromtimestamp(claims["exp"], tz=UTC) + timedelta(
        seconds=ASSERTION_LEEWAY_SECONDS
    )
    digest = jti_digest(app.client_id, claims["jti"])
    return Claim(
        model=UsedAssertion,
        pk=None,
        unused="expires_at",
        assignments={},
        insert={
            "jti_digest": digest,
            "client_id": app.client_id,
            "expires_at": max(expires_at, now),
        },
        unique="jti_digest",
        reclaimable_before=now,
    )


class JWTBearerGrant:
    grant_type = GrantType.JWT_BEARER.value

    def validate_token_request(self, req: TokenRequest) -> Issue:
        assertion = req.params.get("assertion")
        if not assertion:
            raise InvalidRequest(MISSING_ASSERTION)
        # RFC 7523 §3.1: client authentication is optional here (the signed assertion
        # identifies the app); when credentials are sent they must be right.
        authenticated = None
        if _credentials_presented(req):
            identity = client_authenticate(
                req.params, req.authorization, req.context.audiences, public_allowed=False
            )
            req.client_is(identity)
            authenticated = identity.app
        issuer = assertion_issuer(assertion)
        if issuer is None:
            raise InvalidGrant(NOT_A_JWT)
        if authenticated is not None and authenticated.client_id != issuer:
            raise InvalidGrant(ISSUER_NOT_CLIENT)
        app = authenticated or app_named(issuer)
        if app is None:  # unknown or disabled
            raise InvalidClient()
        req.client_is(ClientIdentity(app, False))
        try:
            claims = assertion_verify(assertion, app, req.context.audiences)
        except AssertionRejected as rejected:
            raise InvalidGrant(rejected.description) from None
        req.context.authenticated = True  # signed by one of its keys: the app itself asks
        # Before the subject is looked at: an app not registered for this grant never
        # creates or updates a user.
        if self.grant_type not in app.grant_types:
            raise UnauthorizedClient()
        resolved, found = self._user(claims["sub"], app, _jti_claim(app, claims))
        return user_sign_in(
            req,
            app,
            resolved.user,
            found.facts,
            refresh_token=False,  # RFC 7523 §2.1
            authorization_scopes=found.authorization_scopes,
            federated=resolved,
        )

    def _user(self, sub: str, app: ConnectedApp, jti: Claim) -> tuple[FederatedUser, _Found]:
        """The user `sub` names (SPEC §5), found or to be created (nothing written yet but
        the consumed jti)."""
        subject = federated_subject_parse(sub)
        if subject is None:
            raise InvalidGrant(FEDERATED_SUBJECT_FORMAT)
        try:
            fields = federated_fields(
                username=subject.username,
                email=subject.email,
                first_name=subject.first_name,
                last_name=subject.last_name,
            )
        except ValidationError as exc:
            raise InvalidGrant(_refusal(exc)) from None
        found = _read(subject.provider_id, fields["username"], app, jti)
        if not found.fresh:
            raise InvalidGrant(JTI_USED)
        if found.provider is None or found.provider.type != IdentityProviderType.JWT:
            # An OpenID Connect or SAML provider's users are whoever its upstream IdP signs
            # in (SPEC §11): no app's word names them, nor makes links under it.
            raise InvalidGrant(UNKNOWN_PROVIDER)
        reach = assertion_reach(found.provider.organization, found.owner, found.reach_approved)
        if reach is None:
            raise InvalidGrant(PROVIDER_NOT_APPROVED)
        try:
            resolved = federated_user_decide(
                provider=found.provider,
                fields=fields,
                linked=found.facts.user,
                username_taken=found.username_taken,
            )
        except ValidationError as exc:
            raise InvalidGrant(_refusal(exc)) from None
        if not resolved.created and not user_power_within(resolved.user, reach):
            # A link made earlier cannot carry power granted since outside the provider's
            # org: whoever controls the app there must not become, say, a root administrator.
            raise InvalidGrant(USER_POWER_OUTSIDE)
        return resolved, found

    def create_token_response(self, req: TokenRequest, issue: Issue) -> dict:
        resolved = issue.federated
        try:
            if resolved.created or resolved.changed:
                # SPEC §5: the user is written in the tokens' transaction, after every check:
                # a refused request leaves no user behind.
                with transaction.atomic():
                    federated_user_save(resolved, actor_app=issue.app, meta=req.meta)
                    return tokens_issue_recording_authorization(req, issue)
            return tokens_issue_recording_authorization(req, issue)
        except IntegrityError:  # another assertion created this user a moment ago
            raise InvalidGrant(FEDERATED_USER_CONCURRENT) from None


def _credentials_presented(req: TokenRequest) -> bool:
    return bool(
        (req.authorization or "").startswith("Basic ")
        or req.params.get("client_secret")
        or req.params.get("client_assertion_type")
    )


def _refusal(exc: ValidationError) -> str:
    code = next(iter(exc.error_dict.values()))[0].code
    return FEDERATED_USER_REFUSALS.get(code, "The subject is not acceptable.")
