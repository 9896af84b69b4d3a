"""What a token request presents about its client and its tokens, read in one place: HTTP
Basic credentials (RFC 6749 §2.3.1, RFC 7617) and the digest every token, refresh token and
authorization code is stored and looked up by."""

from __future__ import annotations

import base64
import binascii
import hashlib
from urllib.parse import unquote_plus

MAX_BASIC_LENGTH = 1024  # a client_id and a 256-bit secret take ~150 characters


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(client_id, client_secret) of `Authorization: Basic …`, or None when the header is not
    Basic credentials. RFC 6749 §2.3.1: both are form-urlencoded before Base64 (RFC 7617 §2:
    ASCII only). The scheme is matched as DOT matches it, `Basic` exactly."""
    if not header:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme != "Basic" or not encoded or len(encoded) > MAX_BASIC_LENGTH:
        return None
    if not encoded.isascii():
        return None
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    client_id, separator, secret = decoded.partition(":")
    if not separator:
        return None
    return unquote_plus(client_id), unquote_plus(secret)


def basic_client_id(header: str | None) -> str:
    """The client_id Basic credentials name (unverified), or ""."""
    credentials = basic_credentials(header)
    return credentials[0] if credentials else ""


def token_digest(raw: str) -> str:
    """What the database holds for an access token, a refresh token or an authorization
    code: its SHA-256, hex (RFC 9700 storage; DOT's `token_checksum`). The value itself
    never reaches the database."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()
