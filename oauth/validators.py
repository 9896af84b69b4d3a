"""The one OAuth2Validator subclass (DOT's OAUTH2_VALIDATOR_CLASS seam).

Doorman's token rules on top of DOT's (SPEC §2, §5):
- an app uses exactly the grants in its `grant_types` (RFC names, the jwt-bearer grant too);
- clients authenticate by HTTP Basic, by `client_id`/`client_secret` in the body, or by a JWT
  signed with one of their registered keys (private_key_jwt, RFC 7523 §2.2);
- authorization codes are stored as SHA-256 digests, are claimed once, atomically, and a
  replayed code revokes every token issued from it (its token family);
- refresh tokens rotate on every use, live 90 days from issuance, and a reused (or concurrently
  reused) one revokes its whole family; code-flow apps get one only with `offline_access`;
- the password grant is throttled and asked of an app only when it is registered for it;
- users outside an `internal` app's root org, or deactivated, get no tokens.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from oauth2_provider.models import revoke_access_token
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.oauth2.rfc6749 import errors

from accounts.catalog import SpecialScope
from accounts.models import IdentityProvider
from accounts.services import user_provision_federated
from audit.models import AuditAction
from connected_apps.models import Audience, ConnectedApp, GrantType
from oauth.backends import endpoint_context
from oauth.grants import (
    CLIENT_ASSERTION_MAX_LIFETIME_SECONDS,
    CLIENT_ASSERTION_TYPE,
    AssertionRejected,
    assertion_consume,
    assertion_issuer,
    assertion_verify,
    federated_subject_parse,
)
from oauth.issuance import request_meta, token_event_record
from oauth.models import AccessToken, Grant, RefreshToken
from oauth.oidc import OIDCValidatorMixin
from oauth.throttle import login_throttle_check, login_throttle_failure, login_throttle_success

CODE_REPLAYED = "The authorization code was already used; the tokens issued from it are revoked."
REFRESH_TOKEN_REUSED = "The refresh token was already used; its token family is revoked."  # noqa: S105
USER_NOT_ALLOWED = "The user may not use this app."
FEDERATED_SUBJECT_FORMAT = (
    "sub must be v2|<idp_id>|<username>|<firstname>|<lastname>|<email>|<externalgroups>."
)
FEDERATED_USER_REFUSALS = {
    "username_invalid": "The username in sub is not a valid username.",
    "email_invalid": "The email in sub is not a valid email address.",
    "name_invalid": "A name in sub is too long or contains control characters.",
    "other_organization": "The user belongs to another organization.",
    "inactive": "The user is deactivated.",
}


def code_digest(code: str) -> str:
    """What Grant.code stores: the code itself never reaches the database."""
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def token_checksum(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def user_may_use_app(user, app: ConnectedApp) -> bool:
    """SPEC §2 audience: an `internal` app serves members of its owner's root org only."""
    if user is None or not user.is_active:
        return False
    return app.audience == Audience.EVERYONE or user.organization_id == app.root_org_id


def token_family_revoke(family: uuid.UUID | None) -> bool:
    """Revoke every refresh token of `family` and delete its access tokens (set-wise, DOT
    #1809). True when anything was still live."""
    if not family:
        return False
    live_refresh = RefreshToken.objects.filter(token_family=family, revoked__isnull=True).exists()
    deleted, _ = AccessToken.objects.filter(token_family=family).delete()
    if live_refresh:
        RefreshToken.revoke_family(family)
    return live_refresh or deleted > 0


class _FamilyReplay(Exception):
    """A code or refresh token claimed by someone else first (raised inside the issuing
    transaction, handled after its rollback so the revocation itself is kept)."""

    def __init__(self, description: str, reason: str, family=None, grant_pk=None) -> None:
        super().__init__(description)
        self.description, self.reason = description, reason
        self.family, self.grant_pk = family, grant_pk


class DoormanValidator(OIDCValidatorMixin, OAuth2Validator):
    # -- grant and response types (RFC 6749 §4, §5.2 unauthorized_client) ---------------------
    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs) -> bool:
        client = request.client
        return client is not None and grant_type in client.grant_types

    def validate_response_type(self, client_id, response_type, client, request, *args, **kwargs):
        return response_type == "code" and GrantType.AUTHORIZATION_CODE in client.grant_types

    # -- client authentication (RFC 6749 §2.3.1, RFC 7523 §2.2) -------------------------------
    def client_credentials_presented(self, request) -> bool:
        return bool(
            self._extract_basic_auth(request)
            or getattr(request, "client_secret", None)
            or getattr(request, "client_assertion_type", None)
        )

    def client_authentication_required(self, request, *args, **kwargs) -> bool:
        if getattr(request, "client_assertion_type", None) is not None:
            return True
        return super().client_authentication_required(request, *args, **kwargs)

    def authenticate_client(self, request, *args, **kwargs) -> bool:
        if getattr(request, "client_assertion_type", None) is not None:
            authenticated = self._authenticate_private_key_jwt(request)
        else:
            authenticated = super().authenticate_client(request, *args, **kwargs)
        # A body client_id naming another app than the credentials is a failed authentication
        # (oauthlib would answer it with a 500 "Discrepancy found").
        if authenticated and request.client_id and request.client_id != request.client.client_id:
            authenticated = False
        context = endpoint_context(request)
        if context is not None and isinstance(request.client, ConnectedApp):
            context.client = request.client
        return authenticated

    def _audiences(self, request) -> frozenset[str]:
        context = endpoint_context(request)
        if context is not None:
            return context.audiences
        return frozenset({settings.DOORMAN_ISSUER, f"{settings.DOORMAN_ISSUER}/token"})

    def _authenticate_private_key_jwt(self, request) -> bool:
        """RFC 7523 §2.2 / §3: iss = sub = client_id, signed by one of the app's keys."""
        if getattr(request, "client_assertion_type", None) != CLIENT_ASSERTION_TYPE:
            return False
        assertion = getattr(request, "client_assertion", None)
        issuer = assertion_issuer(assertion)
        if issuer is None or (request.client_id and request.client_id != issuer):
            return False
        if self._load_application(issuer, request) is None:
            return False
        try:
            claims = assertion_verify(
                assertion,
                request.client,
                self._audiences(request),
                max_lifetime=CLIENT_ASSERTION_MAX_LIFETIME_SECONDS,
            )
        except AssertionRejected:
            return False
        if claims["sub"] != issuer:
            return False
        return assertion_consume(request.client, claims)

    # -- password grant (RFC 6749 §4.3) ------------------------------------------------------
    def validate_user(self, username, password, client, request, *args, **kwargs) -> bool:
        # oauthlib asks this before validate_grant_type: an app not registered for the
        # password grant must never learn whether a password is right.
        if client is None or GrantType.PASSWORD not in client.grant_types:
            raise errors.UnauthorizedClientError(request=request)
        ip = request.headers.get("REMOTE_ADDR")
        refusal = login_throttle_check(username=username, ip=ip)
        if refusal is not None:
            context = endpoint_context(request)
            if context is not None:
                context.retry_after = refusal.retry_after
            raise errors.CustomOAuth2Error(
                error="temporarily_unavailable",
                description="Too many failed sign-in attempts; retry later.",
                status_code=429,
                request=request,
            )
        if not super().validate_user(username, password, client, request, *args, **kwargs):
            login_throttle_failure(username=username, ip=ip)
            return False
        login_throttle_success(username=username)
        if not user_may_use_app(request.user, client):
            raise errors.InvalidGrantError(description=USER_NOT_ALLOWED, request=request)
        self._note_user(request)
        return True

    def _note_user(self, request) -> None:
        context = endpoint_context(request)
        if context is not None:
            context.user = request.user

    # -- jwt-bearer grant (RFC 7523 §2.1, §3) ------------------------------------------------
    def validate_jwt_bearer_assertion(self, assertion, request) -> None:
        """Verify the assertion and consume its jti; sets request.client. Raises."""
        issuer = assertion_issuer(assertion)
        if issuer is None:
            raise errors.InvalidGrantError(
                description="The assertion is not a JWT with an iss claim.", request=request
            )
        if request.client is not None and request.client.client_id != issuer:
            raise errors.InvalidGrantError(
                description="The assertion's iss must be the authenticated client.",
                request=request,
            )
        if self._load_application(issuer, request) is None:  # unknown or disabled
            raise errors.InvalidClientError(request=request)
        request.client_id = issuer
        context = endpoint_context(request)
        if context is not None:
            context.client = request.client
        try:
            claims = assertion_verify(assertion, request.client, self._audiences(request))
        except AssertionRejected as rejected:
            raise errors.InvalidGrantError(
                description=rejected.description, request=request
            ) from None
        if not assertion_consume(request.client, claims):
            raise errors.InvalidGrantError(
                description="The assertion's jti was already used.", request=request
            )
        request.doorman_assertion_claims = claims

    def validate_jwt_bearer_subject(self, request) -> None:
        """The user `sub` names, found or created just in time (SPEC §5). Raises."""
        app = request.client
        subject = federated_subject_parse(request.doorman_assertion_claims["sub"])
        if subject is None:
            raise errors.InvalidGrantError(description=FEDERATED_SUBJECT_FORMAT, request=request)
        provider = (
            IdentityProvider.objects.select_related("organization")
            .filter(pk=subject.provider_id)
            .first()
        )
        if provider is None:
            raise errors.InvalidGrantError(
                description="Unknown identity provider.", request=request
            )
        # Only the app's own org's identity providers: an assertion is the app's word
        # alone, with no consent from the user, so it never reaches into another tenant.
        if provider.organization.root_id_or_self != app.root_org_id:
            raise errors.InvalidGrantError(
                description="The identity provider belongs to another organization.",
                request=request,
            )
        try:
            user = user_provision_federated(
                provider=provider,
                username=subject.username,
                email=subject.email,
                first_name=subject.first_name,
                last_name=subject.last_name,
                actor_app=app,
                meta=request_meta(request.headers),
            )
        except ValidationError as exc:
            code = next(iter(exc.error_dict.values()))[0].code
            description = FEDERATED_USER_REFUSALS.get(code, "The subject is not acceptable.")
            raise errors.InvalidGrantError(description=description, request=request) from None
        if not user_may_use_app(user, app):
            raise errors.InvalidGrantError(description=USER_NOT_ALLOWED, request=request)
        request.user = user
        self._note_user(request)

    # -- authorization codes, stored as digests (RFC 6749 §4.1.2, §10.5) ----------------------
    def _grant(self, code, client=None) -> Grant | None:
        if not isinstance(code, str) or not code:
            return None
        grants = Grant.objects.filter(code=code_digest(code))
        if client is not None:
            grants = grants.filter(application=client)
        return grants.first()

    def _create_authorization_code(self, request, code, expires=None):
        return super()._create_authorization_code(
            request, {**code, "code": code_digest(code["code"])}, expires
        )

    def validate_code(self, client_id, code, client, request, *args, **kwargs) -> bool:
        grant = self._grant(code, client)
        if grant is None:
            return False
        if grant.used_at is not None:
            # RFC 6749 §4.1.2: a code used twice revokes the tokens issued from it.
            self._revoke_family(request, grant.token_family, reason="authorization_code_replay")
            return False
        if grant.is_expired() or not user_may_use_app(grant.user, client):
            return False
        request.scopes = grant.scope.split(" ")
        request.user = grant.user
        if grant.nonce:
            request.nonce = grant.nonce
        if grant.claims:
            request.claims = json.loads(grant.claims)
        request.doorman_grant = grant
        self._note_user(request)
        return True

    def confirm_redirect_uri(
        self, client_id, code, redirect_uri, client, request=None, *args, **kwargs
    ) -> bool:
        # RFC 6749 §4.1.3 / §5.2: identical to the authorization request's, else invalid_grant
        # (oauthlib would say invalid_request).
        grant = self._grant(code, client)
        if grant is None or not grant.redirect_uri_allowed(redirect_uri):
            raise errors.InvalidGrantError(
                description="redirect_uri does not match the authorization request.",
                request=request,
            )
        return True

    def get_code_challenge(self, code, request):
        grant = self._grant(code, request.client)
        return (grant.code_challenge or None) if grant else None

    def get_code_challenge_method(self, code, request):
        # Only S256 was ever accepted at /authorize; anything else stored is "not found"
        # (invalid_grant) rather than oauthlib's server_error.
        grant = self._grant(code, request.client)
        return "S256" if grant is not None and grant.code_challenge_method == "S256" else None

    def get_authorization_code_scopes(self, client_id, code, redirect_uri, request) -> list[str]:
        grant = self._grant(code)
        return grant.scope.split() if grant else []

    def get_authorization_code_nonce(self, client_id, code, redirect_uri, request):
        grant = self._grant(code)
        return (grant.nonce or None) if grant else None

    def invalidate_authorization_code(self, client_id, code, request, *args, **kwargs) -> None:
        """Nothing to do: save_bearer_token claimed the code (used_at), and the row stays
        until it expires so that a replay can be recognised and its tokens revoked."""

    # -- refresh tokens (RFC 6749 §6, RFC 9700 §4.14.2) --------------------------------------
    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs) -> bool:
        # RFC 9700 §4.14.2: a rotated (or revoked) refresh token presented again revokes its
        # whole family. DOT would too, but silently and without the code's access tokens.
        rows = list(
            RefreshToken.objects.filter(token_checksum=token_checksum(refresh_token))
            .order_by(F("revoked").desc(nulls_first=True))
            .values_list("revoked", "token_family")[:2]
        )
        if rows and all(revoked is not None for revoked, _ in rows):
            self._revoke_family(request, rows[0][1], reason="refresh_token_reuse")
            return False
        if not super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
            return False
        refresh = request.refresh_token_instance
        lifetime = timedelta(seconds=settings.DOORMAN_REFRESH_TOKEN_LIFETIME)
        if refresh.created + lifetime <= timezone.now():  # absolute, from issuance
            return False
        if refresh.user is not None and not user_may_use_app(refresh.user, client):
            return False
        self._note_user(request)
        return True

    # -- issuing -----------------------------------------------------------------------------
    def save_bearer_token(self, token, request, *args, **kwargs):
        self._apply_refresh_token_policy(token, request)
        try:
            with transaction.atomic():
                self._claim(request)
                result = self._save_bearer_token(token, request, *args, **kwargs)
                self._record_issued(token, request)
        except _FamilyReplay as replay:
            family = replay.family
            if replay.grant_pk is not None:
                family = (
                    Grant.objects.filter(pk=replay.grant_pk)
                    .values_list("token_family", flat=True)
                    .first()
                )
            self._revoke_family(request, family, reason=replay.reason)
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
        """Single use, decided under a lock: concurrent redemptions of one code or one
        refresh token issue tokens once; the loser is a replay."""
        if request.grant_type == "authorization_code":
            grant = request.doorman_grant
            family = uuid.uuid4()
            claimed = Grant.objects.filter(pk=grant.pk, used_at__isnull=True).update(
                used_at=timezone.now(), token_family=family
            )
            if claimed != 1:
                raise _FamilyReplay(CODE_REPLAYED, "authorization_code_replay", grant_pk=grant.pk)
            request.doorman_token_family = family
        elif request.grant_type == "refresh_token":
            # DOT locks the row too, but then answers a token rotated meanwhile with the
            # (hashed, so empty) previous tokens: 200 with "access_token": "".
            current = (
                RefreshToken.objects.select_for_update()
                .filter(pk=request.refresh_token_instance.pk)
                .first()
            )
            if current is None or current.revoked is not None:
                family = current.token_family if current is not None else None
                raise _FamilyReplay(REFRESH_TOKEN_REUSED, "refresh_token_reuse", family=family)

    def _create_access_token(self, expires, request, token, source_refresh_token=None):
        access_token = super()._create_access_token(expires, request, token, source_refresh_token)
        family = getattr(request, "doorman_token_family", None) or getattr(
            source_refresh_token, "token_family", None
        )
        if family:
            AccessToken.objects.filter(pk=access_token.pk).update(token_family=family)
            access_token.token_family = family
        return access_token

    def _create_refresh_token(self, request, refresh_token_code, access_token, previous):
        refresh = super()._create_refresh_token(request, refresh_token_code, access_token, previous)
        family = getattr(request, "doorman_token_family", None)
        if family and previous is None:  # a code's first refresh token joins the code's family
            RefreshToken.objects.filter(pk=refresh.pk).update(token_family=family)
            refresh.token_family = family
        return refresh

    def _record_issued(self, token, request) -> None:
        app = request.client
        ConnectedApp.objects.filter(pk=app.pk).update(last_used_at=timezone.now())
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

    def _revoke_family(self, request, family, *, reason: str) -> None:
        if not token_family_revoke(family):
            return  # nothing was live: no event for every replay of a dead token
        token_event_record(
            action=AuditAction.TOKEN_REVOKED,
            app=request.client,
            user=getattr(request, "user", None),
            details={"reason": reason, "grant_type": request.grant_type},
            meta=request_meta(request.headers),
        )

    # -- revocation (RFC 7009 §2.1) ----------------------------------------------------------
    def revoke_token(self, token, token_type_hint, request, *args, **kwargs) -> None:
        """Only the calling app's tokens; a refresh token takes its whole family with it.
        The hint is only a hint: both kinds are looked up."""
        app = request.client
        if not isinstance(app, ConnectedApp) or not token:
            return
        lookup = {"token_checksum": token_checksum(token), "application_id": app.pk}
        revoked = []
        for refresh in RefreshToken.objects.filter(**lookup, revoked__isnull=True).select_related(
            "user"
        ):
            if refresh.token_family:
                token_family_revoke(refresh.token_family)
            else:
                refresh.revoke()
            revoked.append(("refresh_token", refresh.user))
        if not revoked:
            for access in AccessToken.objects.filter(**lookup).select_related("user"):
                revoke_access_token(access)
                revoked.append(("access_token", access.user))
        for token_type, user in revoked[:1]:
            token_event_record(
                action=AuditAction.TOKEN_REVOKED,
                app=app,
                user=user,
                details={"reason": "revocation_request", "token_type": token_type},
                meta=request_meta(request.headers),
            )
