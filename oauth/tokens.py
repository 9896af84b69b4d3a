"""Access and refresh token values: 256 bits from the OS CSPRNG."""

import secrets

from oauth2_provider.settings import oauth2_settings

from oauth.engine.credentials import token_digest


def generate_token(request=None) -> str:
    return secrets.token_urlsafe(32)


def token_stored_values(raw: str) -> dict[str, str]:
    """What a token row holds for the token `raw`, by attname, for a row inserted without a
    model instance: what DOT's `set_token_value` and checksum field store (RFC 9700 storage:
    the SHA-256 checksum only, the token column blank)."""
    if not oauth2_settings.COMPLIANT_BCP_RFC9700_TOKEN_STORAGE:
        raise RuntimeError("Doorman stores tokens only as checksums (settings.OAUTH2_PROVIDER)")
    return {"token": "", "token_checksum": token_digest(raw)}
