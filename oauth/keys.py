"""OIDC signing keys: RS256, stored encrypted, rotated by `manage.py rotate_signing_key`.

The private key is encrypted with Fernet under a key derived from SECRET_KEY, so a copy of the
database alone cannot sign tokens. Which key is active is read from the database each time a
token is signed (one indexed query), so a rotation made by any process applies at once in every
process; only the decrypted key itself is kept in memory, by kid.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from jwcrypto import jwk
from oauth2_provider.settings import oauth2_settings

from oauth.models import SigningKey

RSA_KEY_SIZE = 2048
SIGNING_ALGORITHM = "RS256"
# Verifiers' clocks drift: a retired key stays published a little past the last token it signed.
CLOCK_SKEW = timedelta(minutes=5)

_lock = threading.Lock()
_loaded: dict[str, ActiveKey] = {}


def _fernet() -> Fernet:
    digest = hashlib.sha256(b"doorman-signing-key\x00" + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


@dataclass(frozen=True)
class ActiveKey:
    kid: str
    jwk: jwk.JWK


def _new_private_pem() -> bytes:
    private = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_SIZE)
    return private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def publication_horizon(now: datetime | None = None) -> datetime:
    """Keys retired before this instant signed no ID token that is still valid."""
    lifetime = timedelta(seconds=oauth2_settings.ID_TOKEN_EXPIRE_SECONDS)
    return (now or timezone.now()) - lifetime - CLOCK_SKEW


def signing_key_rotate() -> SigningKey:
    """Create a new active key; the previous one is retired but stays published (JWKS) for
    as long as an ID token it signed can be valid. Keys retired before that are deleted: they
    can verify nothing, and an unused private key is only a liability."""
    pem = _new_private_pem()
    key = jwk.JWK.from_pem(pem)
    kid = key.thumbprint()  # RFC 7638, what DOT puts in the ID token's `kid` header
    public = {**key.export_public(as_dict=True), "kid": kid, "alg": SIGNING_ALGORITHM, "use": "sig"}
    now = timezone.now()
    with transaction.atomic():
        SigningKey.objects.select_for_update().filter(is_active=True).update(
            is_active=False, retired_at=now
        )
        SigningKey.objects.filter(is_active=False, retired_at__lt=publication_horizon(now)).delete()
        return SigningKey.objects.create(
            kid=kid, private_key_encrypted=_fernet().encrypt(pem), public_jwk=public
        )


def _active_row() -> SigningKey:
    row = SigningKey.objects.filter(is_active=True).first()
    if row is not None:
        return row
    try:
        return signing_key_rotate()
    except IntegrityError:
        # Another process created the first key at the same moment (one active key only).
        return SigningKey.objects.get(is_active=True)


def active_jwk() -> jwk.JWK:
    """The active key as a JWK: what DOT signs ID tokens with (ConnectedApp.jwk_key)."""
    return active_signing_key().jwk


def active_signing_key(kid: str | None = None) -> ActiveKey:
    """The key that signs new ID tokens (created on first use); `kid`, when the caller read
    the active key's id already (the token engine reads it with the grant)."""
    if kid is None:
        kid = SigningKey.objects.filter(is_active=True).values_list("kid", flat=True).first()
    loaded = _loaded.get(kid) if kid else None
    if loaded is not None:
        return loaded
    with _lock:
        row = _active_row()
        pem = _fernet().decrypt(bytes(row.private_key_encrypted))
        loaded = ActiveKey(kid=row.kid, jwk=jwk.JWK.from_pem(pem))
        _loaded.clear()  # only the active key is ever needed in memory
        _loaded[row.kid] = loaded
        return loaded


def published_keys() -> list[dict]:
    """Public JWKs, active key first: the active key and every key retired within the
    ID-token lifetime (so tokens signed before a rotation still verify)."""
    active_signing_key()
    rows = SigningKey.objects.filter(
        Q(is_active=True) | Q(retired_at__gte=publication_horizon())
    ).order_by("-is_active", "-created_at")
    return [row.public_jwk for row in rows]
