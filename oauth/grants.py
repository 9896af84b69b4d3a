"""JWT assertions (RFC 7523): the jwt-bearer grant and private_key_jwt client authentication.

Both verify a JWT signed by one of the app's registered public keys. Only asymmetric
algorithms are accepted (RS256, PS256, ES256): `none` and HMAC are refused before any key is
tried, and keys are loaded as key objects, so a public key can never be used as an HMAC
secret. Every `jti` is accepted once (UsedAssertion, a unique digest), until it expires.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.db import IntegrityError, transaction
from django.utils import timezone
from oauthlib.oauth2.rfc6749 import errors
from oauthlib.oauth2.rfc6749.grant_types.base import GrantTypeBase
from oauthlib.openid.connect.core.grant_types.base import GrantTypeBase as OpenIDGrantTypeBase

from connected_apps.models import ConnectedApp, GrantType
from oauth.models import UsedAssertion

JWT_BEARER = GrantType.JWT_BEARER.value
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGORITHMS = ("RS256", "PS256", "ES256")
ASSERTION_LEEWAY_SECONDS = 30
# RFC 7523 §3: the server MAY reject assertions with an unreasonably far expiry. A grant
# assertion must be near (SPEC §5); a client assertion may live an hour, as common client
# libraries (Authlib's PrivateKeyJWT, for one) sign them — its jti is single-use anyway.
ASSERTION_MAX_LIFETIME_SECONDS = 300
CLIENT_ASSERTION_MAX_LIFETIME_SECONDS = 3600
MAX_JTI_LENGTH = 255


class AssertionRejected(Exception):
    """The assertion is unusable; `description` is safe to show the client (ASCII, no data)."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


# ---------------------------------------------------------------------------------------------
# Verification
# ---------------------------------------------------------------------------------------------
def assertion_issuer(assertion: Any) -> str | None:
    """The unverified `iss` claim: it names the app whose keys must verify the assertion."""
    if not isinstance(assertion, str) or len(assertion) > 16 * 1024:
        return None
    try:
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    issuer = claims.get("iss") if isinstance(claims, dict) else None
    return issuer if isinstance(issuer, str) and 0 < len(issuer) <= 100 else None


def _app_keys(app: ConnectedApp) -> list[Any]:
    keys = []
    for entry in app.public_keys or []:
        try:
            if isinstance(entry, dict):
                keys.append(jwt.PyJWK(entry).key)
            elif isinstance(entry, str):
                keys.append(load_pem_public_key(entry.encode()))
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            continue  # validated at registration; skip anything unreadable
    return keys


_CLAIM_ERRORS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "The assertion has expired."),
    (jwt.ImmatureSignatureError, "The assertion is not valid yet."),
    (jwt.InvalidAudienceError, "The assertion's aud is not this authorization server."),
    (jwt.InvalidIssuerError, "The assertion's iss must be the client_id."),
    (
        jwt.MissingRequiredClaimError,
        "The assertion lacks a required claim (iss, sub, aud, exp, jti).",
    ),
)


def assertion_verify(
    assertion: str,
    app: ConnectedApp,
    audiences: frozenset[str],
    *,
    max_lifetime: int = ASSERTION_MAX_LIFETIME_SECONDS,
) -> dict:
    """The verified claims of `assertion`, issued by `app` for one of `audiences`.

    RFC 7523 §3: iss = the client_id, aud = this server, exp required (and near: at most
    `max_lifetime` seconds ahead), jti present. Raises AssertionRejected.
    """
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError as exc:
        raise AssertionRejected("The assertion is not a JWT.") from exc
    if header.get("alg") not in ASSERTION_ALGORITHMS:
        raise AssertionRejected("The assertion must be signed with RS256, PS256 or ES256.")
    claims = None
    for key in _app_keys(app):
        try:
            claims = jwt.decode(
                assertion,
                key,
                algorithms=list(ASSERTION_ALGORITHMS),
                audience=sorted(audiences),
                issuer=app.client_id,
                leeway=ASSERTION_LEEWAY_SECONDS,
                options={"require": ["iss", "sub", "aud", "exp", "jti"]},
            )
            break
        except (jwt.InvalidSignatureError, jwt.InvalidKeyError, TypeError, ValueError):
            # Not this key (PyJWT raises TypeError for a key of another type than the
            # algorithm's): another registered key may have signed it.
            continue
        except jwt.PyJWTError as exc:  # signature good, claims not
            for error_class, description in _CLAIM_ERRORS:
                if isinstance(exc, error_class):
                    raise AssertionRejected(description) from exc
            raise AssertionRejected("The assertion is malformed.") from exc
    if claims is None:
        raise AssertionRejected("The assertion is not signed by a key registered for the app.")
    _check_claim_shapes(claims, max_lifetime)
    return claims


def _check_claim_shapes(claims: dict, max_lifetime: int) -> None:
    now = timezone.now().timestamp()
    if claims["exp"] - now > max_lifetime + ASSERTION_LEEWAY_SECONDS:
        raise AssertionRejected(
            f"The assertion's exp must be at most {max_lifetime} seconds ahead."
        )
    jti = claims["jti"]
    if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_LENGTH:
        raise AssertionRejected("The assertion's jti must be a non-empty string.")
    if not isinstance(claims["sub"], str) or not claims["sub"]:
        raise AssertionRejected("The assertion's sub must be a non-empty string.")


def assertion_consume(app: ConnectedApp, claims: dict) -> bool:
    """Record the assertion's jti; False when it was seen before (RFC 7523 §3, item 7)."""
    now = timezone.now()
    digest = hashlib.sha256(f"{app.client_id}\x00{claims['jti']}".encode()).hexdigest()
    expires_at = datetime.fromtimestamp(claims["exp"], tz=UTC) + timedelta(
        seconds=ASSERTION_LEEWAY_SECONDS
    )
    # Expired records can never match an acceptable assertion again: drop them as we go.
    UsedAssertion.objects.filter(expires_at__lt=now).delete()
    try:
        with transaction.atomic():
            UsedAssertion.objects.create(
                jti_digest=digest, client_id=app.client_id, expires_at=max(expires_at, now)
            )
    except IntegrityError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# The federated subject: v2|<idp_id>|<username>|<firstname>|<lastname>|<email>|<externalgroups>
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FederatedSubject:
    provider_id: uuid.UUID
    username: str
    first_name: str
    last_name: str
    email: str
    external_groups: str


def federated_subject_parse(sub: str) -> FederatedSubject | None:
    """The parts of a `v2|…` subject, or None when it is not one (SPEC §5)."""
    parts = sub.split("|", 6)
    if len(parts) != 7 or parts[0] != "v2":
        return None
    try:
        provider_id = uuid.UUID(parts[1])
    except ValueError:
        return None
    username = parts[2].strip()
    if not username:
        return None
    return FederatedSubject(
        provider_id=provider_id,
        username=username,
        first_name=parts[3].strip(),
        last_name=parts[4].strip(),
        email=parts[5].strip(),
        external_groups=parts[6],
    )


# ---------------------------------------------------------------------------------------------
# Grant handlers
# ---------------------------------------------------------------------------------------------
class JWTBearerGrant(GrantTypeBase):
    """RFC 7523 §2.1: an assertion, signed by the app, names the user; no refresh token."""

    refresh_token = False

    def create_token_response(self, request, token_handler):
        headers = self._get_default_headers()
        try:
            self.validate_token_request(request)
        except errors.OAuth2Error as error:
            headers.update(error.headers)
            return headers, error.json, error.status_code
        try:
            # SPEC §5: the user is written in the same transaction as the token (and the
            # id_token record), after every check: a refused request leaves no user behind.
            with transaction.atomic():
                self.request_validator.jwt_bearer_user_save(request)
                token = token_handler.create_token(request, refresh_token=self.refresh_token)
                for modifier in self._token_modifiers:
                    token = modifier(token, token_handler, request)
                self.request_validator.save_token(token, request)
        except errors.OAuth2Error as error:
            headers.update(error.headers)
            return headers, error.json, error.status_code
        return headers, json.dumps(token), 200

    def validate_token_request(self, request) -> None:
        if request.grant_type != JWT_BEARER:
            raise errors.UnsupportedGrantTypeError(request=request)
        for validator in self.custom_validators.pre_token:
            validator(request)
        assertion = getattr(request, "assertion", None)
        if not assertion:
            raise errors.InvalidRequestError(
                description="Missing assertion parameter.", request=request
            )
        # RFC 7523 §3.1: client authentication is optional here (the signed assertion
        # identifies the app); when credentials are sent they must be right.
        if self.request_validator.client_credentials_presented(request):
            self.validate_client_authentication(request)
        self.request_validator.validate_jwt_bearer_assertion(assertion, request)
        # Before the subject is looked at: an app not registered for this grant never
        # creates or updates a user.
        self.validate_grant_type(request)
        self.request_validator.validate_jwt_bearer_subject(request)
        self.validate_scopes(request)
        for validator in self.custom_validators.post_token:
            validator(request)


class OpenIDUserGrant(OpenIDGrantTypeBase):
    """An OAuth 2 grant that acts for a user without /authorize (password, jwt-bearer), made
    to return an `id_token` whenever `openid` is granted (SPEC §5), as oauthlib makes its
    code and refresh grants OpenID: a proxy whose `add_id_token` (oauthlib's) builds the
    token's claims and signature through the validator (DOT's `finalize_id_token`) exactly
    as in the code flow. No nonce: no authentication request sent one.

    oauthlib's password grant calls token modifiers with the token alone, so the id_token
    is added by the token handler the grant is given instead."""

    def __init__(self, proxy_target: GrantTypeBase) -> None:
        self.proxy_target = proxy_target

    def create_token_response(self, request, token_handler):
        issuer = _WithIdToken(token_handler, self)
        return self.proxy_target.create_token_response(request, issuer)

    def add_id_token(self, token, token_handler, request, nonce=None):
        # OIDC Core §2: `aud` is the client the token went to, however it authenticated
        # (Basic, private_key_jwt, or only its signed assertion: no client_id parameter).
        request.client_id = request.client.client_id
        request.nonce = None  # a `nonce` body parameter is not an authentication request's
        return super().add_id_token(token, token_handler, request)


class _WithIdToken:
    """A token handler that adds the grant's id_token to every token it creates."""

    def __init__(self, handler, grant: OpenIDUserGrant) -> None:
        self._handler, self._grant = handler, grant

    def create_token(self, request, *args, **kwargs) -> dict:
        token = self._handler.create_token(request, *args, **kwargs)
        return self._grant.add_id_token(token, self._handler, request)

    def __getattr__(self, name: str):
        return getattr(self._handler, name)


class UnsupportedGrant(GrantTypeBase):
    """The handler for any grant_type the server does not offer (RFC 6749 §5.2)."""

    def create_token_response(self, request, token_handler):
        headers = self._get_default_headers()
        if not request.grant_type:
            error = errors.InvalidRequestError(
                description="Missing grant_type parameter.", request=request
            )
        else:
            error = errors.UnsupportedGrantTypeError(request=request)
        headers.update(error.headers)
        return headers, error.json, error.status_code
