"""JWT assertions (RFC 7523): the jwt-bearer grant and private_key_jwt client authentication.

Both verify a JWT signed by one of the app's registered public keys. Only asymmetric
algorithms are accepted (RS256, PS256, ES256): `none` and HMAC are refused before any key is
tried, and keys are loaded as key objects, so a public key can never be used as an HMAC
secret. Every `jti` is accepted once (UsedAssertion, a unique digest), until it expires.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.db import IntegrityError, transaction
from django.utils import timezone

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


def jti_digest(client_id: str, jti: str) -> str:
    """What UsedAssertion stores of an assertion's jti: scoped to the app that signed it."""
    return hashlib.sha256(f"{client_id}\x00{jti}".encode()).hexdigest()


def assertion_consume(app: ConnectedApp, claims: dict) -> bool:
    """Record the assertion's jti; False when it was seen before (RFC 7523 §3, item 7)."""
    now = timezone.now()
    digest = jti_digest(app.client_id, claims["jti"])
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
