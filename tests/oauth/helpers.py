"""Test helpers: mint access tokens directly, stored exactly as DOT stores them (hashed)."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.utils import timezone
from oauth2_provider.models import set_token_value

from oauth.models import AccessToken


def mint_access_token(*, user=None, app=None, scope: str, expires_in: int = 3600) -> str:
    """A live access token for `user` (None for an app token) and `app` (None for a
    platform token); returns the raw value, which the database never holds."""
    raw = secrets.token_urlsafe(32)
    token = AccessToken(
        user=user,
        application=app,
        scope=scope,
        expires=timezone.now() + timedelta(seconds=expires_in),
    )
    set_token_value(token, raw)
    token.save()
    return raw


def bearer(raw: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
