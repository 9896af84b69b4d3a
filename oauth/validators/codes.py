"""Authorization codes, stored as SHA-256 digests (RFC 6749 §4.1.2, §10.5; SPEC §5).

The code itself never reaches the database: the authorization endpoint stores its digest.
Codes are redeemed, once, by the token engine (oauth.engine.authorization_code); the row
stays until it expires, so a replay is recognised and revokes what the code issued.
"""

from __future__ import annotations

from oauth.engine.credentials import token_digest


class AuthorizationCodeValidatorMixin:
    def _create_authorization_code(self, request, code, expires=None):
        return super()._create_authorization_code(
            request, {**code, "code": token_digest(code["code"])}, expires
        )
