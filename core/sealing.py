"""Sealed secrets: values Doorman must present to someone else (an upstream identity
provider's client secret), so it cannot keep a digest of them.

They are encrypted with Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`) under a
key derived (HKDF-SHA256) from SECRET_KEY: a copy of the database alone opens nothing.
SECRET_KEY_FALLBACKS still open values sealed under an earlier key, so rotating SECRET_KEY
keeps them readable; `seal` always uses the current key.
"""

from __future__ import annotations

import base64
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

_INFO = b"doorman sealed secrets v1"


class SealBroken(Exception):
    """A sealed value no current or fallback key opens (or it was tampered with)."""


def _fernet_for(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


@cache
def _keys(secret_key: str, fallbacks: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([_fernet_for(key) for key in (secret_key, *fallbacks)])


def _current() -> MultiFernet:
    return _keys(settings.SECRET_KEY, tuple(getattr(settings, "SECRET_KEY_FALLBACKS", ())))


def seal(value: str) -> str:
    """`value` encrypted and authenticated; "" stays "" (nothing to keep)."""
    if not value:
        return ""
    return _current().encrypt(value.encode()).decode()


def unseal(sealed: str) -> str:
    """The value `seal` was given; raises SealBroken when no key opens it."""
    if not sealed:
        return ""
    try:
        return _current().decrypt(sealed.encode()).decode()
    except InvalidToken as exc:
        raise SealBroken("the sealed value cannot be opened with the configured keys") from exc
