"""Revocation (RFC 7009 §2.1) for DOT's revocation endpoint: the token engine's rule."""

from __future__ import annotations

from connected_apps.models import ConnectedApp
from oauth.engine.revocation import token_revoke_requested
from oauth.issuance import request_meta


class TokenValidatorMixin:
    def revoke_token(self, token, token_type_hint, request, *args, **kwargs) -> None:
        app = request.client
        if not isinstance(app, ConnectedApp) or not token:
            return
        token_revoke_requested(app=app, raw=token, meta=request_meta(request.headers))
