"""Field rules of connected apps (SPEC §2): redirect URIs, public keys, website URL."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

MAX_REDIRECT_URIS = 50
MAX_URI_LENGTH = 2000
MAX_PUBLIC_KEYS = 10
MIN_RSA_BITS = 2048
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})

REDIRECT_URIS_INVALID = "redirect_uris must be a list of absolute URIs."
REDIRECT_URI_FRAGMENT = "Redirect URIs must not contain a fragment: {uri}."
REDIRECT_URI_NOT_HTTPS = "Redirect URIs must use https (http only for localhost): {uri}."
REDIRECT_URI_NOT_ABSOLUTE = "Redirect URIs must be absolute: {uri}."
PUBLIC_KEYS_INVALID = "public_keys must be a list of PEM strings or JWK objects."
PUBLIC_KEY_UNREADABLE = "Public key {index} is not a PEM or JWK public key."
PUBLIC_KEY_PRIVATE = "Public key {index} contains private key material; send only the public key."
PUBLIC_KEY_WEAK = "Public key {index} must be RSA (2048 bits or more) or EC P-256."
WEBSITE_URL_INVALID = "website_url must be an http(s) URL."


def validate_redirect_uris(value: Any) -> list[str]:
    """Absolute, fragment-free, https (or http on a loopback host), compared exactly later."""
    if isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, list) or len(value) > MAX_REDIRECT_URIS:
        raise ValidationError({"redirect_uris": REDIRECT_URIS_INVALID})
    cleaned: list[str] = []
    for uri in value:
        if (
            not isinstance(uri, str)
            or not uri
            or len(uri) > MAX_URI_LENGTH
            or any(c.isspace() for c in uri)
        ):
            raise ValidationError({"redirect_uris": REDIRECT_URIS_INVALID})
        parts = urlsplit(uri)
        if not parts.scheme or not parts.netloc or not parts.hostname:
            raise ValidationError({"redirect_uris": REDIRECT_URI_NOT_ABSOLUTE.format(uri=uri)})
        if "#" in uri:
            raise ValidationError({"redirect_uris": REDIRECT_URI_FRAGMENT.format(uri=uri)})
        scheme = parts.scheme.lower()
        if scheme != "https" and not (scheme == "http" and parts.hostname in LOOPBACK_HOSTS):
            raise ValidationError({"redirect_uris": REDIRECT_URI_NOT_HTTPS.format(uri=uri)})
        if uri not in cleaned:
            cleaned.append(uri)
    return cleaned


def _check_key_object(key: Any, index: int) -> None:
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise ValidationError({"public_keys": PUBLIC_KEY_WEAK.format(index=index)})
        return
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return
    raise ValidationError({"public_keys": PUBLIC_KEY_WEAK.format(index=index)})


def validate_public_keys(value: Any) -> list[str | dict]:
    """PEM public keys (strings) or public JWKs (objects); never private keys or HMAC secrets."""
    if isinstance(value, tuple):
        value = list(value)
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_PUBLIC_KEYS:
        raise ValidationError({"public_keys": PUBLIC_KEYS_INVALID})
    cleaned: list[str | dict] = []
    for index, entry in enumerate(value):
        if isinstance(entry, str):
            if "PRIVATE KEY" in entry:
                raise ValidationError({"public_keys": PUBLIC_KEY_PRIVATE.format(index=index)})
            try:
                key = load_pem_public_key(entry.strip().encode())
            except (ValueError, TypeError) as exc:
                raise ValidationError(
                    {"public_keys": PUBLIC_KEY_UNREADABLE.format(index=index)}
                ) from exc
            _check_key_object(key, index)
            cleaned.append(entry.strip() + "\n")
        elif isinstance(entry, dict):
            if any(private in entry for private in ("d", "p", "q", "k")):
                raise ValidationError({"public_keys": PUBLIC_KEY_PRIVATE.format(index=index)})
            try:
                key = jwt.PyJWK(entry).key
            except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError, KeyError) as exc:
                raise ValidationError(
                    {"public_keys": PUBLIC_KEY_UNREADABLE.format(index=index)}
                ) from exc
            _check_key_object(key, index)
            cleaned.append(entry)
        else:
            raise ValidationError({"public_keys": PUBLIC_KEYS_INVALID})
    return cleaned


def validate_website_url(value: Any) -> str:
    if value in (None, ""):
        return ""
    if not isinstance(value, str) or len(value) > 500:
        raise ValidationError({"website_url": WEBSITE_URL_INVALID})
    try:
        URLValidator(schemes=["http", "https"])(value)
    except ValidationError as exc:
        raise ValidationError({"website_url": WEBSITE_URL_INVALID}) from exc
    return value
