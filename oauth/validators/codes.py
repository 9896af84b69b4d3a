"""Authorization codes, stored as SHA-256 digests (RFC 6749 §4.1.2, §10.5; SPEC §5).

The code itself never reaches the database: the token engine's one writer of codes
(`oauth.engine.authorization.code_store`) stores its digest, for the consent screen's Allow
(here, when oauthlib mints the code) as for a remembered consent (the authorization view).
Codes are redeemed, once, by the token engine (oauth.engine.authorization_code); the row
stays until it expires, so a replay is recognised and revokes what the code issued.
"""

from __future__ import annotations

from oauthlib.oauth2.rfc6749 import errors

from oauth.engine.authorization import code_store

PKCE_PLAIN_REFUSED = 'Unsupported "plain" code_challenge_method; use "S256".'


class AuthorizationCodeValidatorMixin:
    def save_authorization_code(self, client_id, code, request, *args, **kwargs) -> None:
        # RFC 9700 §2.1.1 (DOT's own check, kept: the view refuses anything but S256 first).
        if request.code_challenge_method == "plain":
            raise errors.InvalidRequestError(description=PKCE_PLAIN_REFUSED, request=request)
        code_store(
            code=code["code"],
            app=request.client,
            user=request.user,
            redirect_uri=request.redirect_uri,
            scopes=request.scopes,
            code_challenge=request.code_challenge,
            code_challenge_method=request.code_challenge_method,
            nonce=request.nonce,
            claims=request.claims,
            resource=getattr(request, "resource", None),
            sign_in=getattr(request, "sign_in", None),  # the authorization view's credentials
        )
