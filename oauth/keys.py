"""OIDC signing keys: RS256, stored encrypted, rotated by `manage.py rotate_signing_key`.

The private key is encrypted with Fernet under a key derived from SECRET_KEY, so a copy of the
database alone cannot sign tokens. Each process keeps the decrypted active key in memory and
re-reads it only when the key generation recorded in the cache changes (after a rotation).
"""

from __future__ import annotations

import base64
import hashlib
import threading
from dataclasses import dataclass
from datetime import timedelta

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from jwcrypto import jwk

from oauth.models import SigningKey

KEY_GENERATION_CACHE_KEY = "oauth:signing-key-generation"
RSA_KEY_SIZE = 2048

_lock = threading.Lock()
_loaded: dict[str, object] = {"generation": None, "key": None}


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


def signing_key_rotate() -> SigningKey:
    """Create a new active key; the previous one is retired but stays published (JWKS)."""
    pem = _new_private_pem()
    key = jwk.JWK.from_pem(pem)
    kid = key.thumbprint()
    public = {**key.export_public(as_dict=True), "kid": kid, "alg": "RS256", "use": "sig"}
    with transaction.atomic():
        SigningKey.objects.select_for_update().filter(is_active=True).update(
            is_active=False, retired_at=timezone.now()
        )
        created = SigningKey.objects.create(
            kid=kid, private_key_encrypted=_fernet().encrypt(pem), public_jwk=public
        )
        transaction.on_commit(lambda: cache.set(KEY_GENERATION_CACHE_KEY, kid, None))
    return created


def _active_row() -> SigningKey:
    row = SigningKey.objects.filter(is_active=True).first()
    if row is None:
        row = signing_key_rotate()
    return row


def active_signing_key() -> ActiveKey:
    """The key that signs new ID tokens (created on first use)."""
    generation = cache.get(KEY_GENERATION_CACHE_KEY)
    if generation is not None and generation == _loaded["generation"]:
        return _loaded["key"]  # type: ignore[return-value]
    with _lock:
        row = _active_row()
        pem = _fernet().decrypt(bytes(row.private_key_encrypted))
        loaded = ActiveKey(kid=row.kid, jwk=jwk.JWK.from_pem(pem))
        _loaded.update(generation=row.kid, key=loaded)
        if generation != row.kid:
            cache.set(KEY_GENERATION_CACHE_KEY, row.kid, None)
        return loaded


def published_keys() -> list[dict]:
    """Public JWKs: the active key and every key retired within the ID-token lifetime."""
    active_signing_key()
    horizon = timezone.now() - timedelta(seconds=settings.DOORMAN_ACCESS_TOKEN_LIFETIME + 300)
    rows = SigningKey.objects.filter(is_active=True) | SigningKey.objects.filter(
        retired_at__gte=horizon
    )
    return [row.public_jwk for row in rows.order_by("-is_active", "-created_at")]
