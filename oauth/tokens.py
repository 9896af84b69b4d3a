"""Access and refresh token values: 256 bits from the OS CSPRNG."""

import secrets


def generate_token(request=None) -> str:
    return secrets.token_urlsafe(32)
