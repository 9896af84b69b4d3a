"""Authorization codes, stored as SHA-256 digests (RFC 6749 §4.1.2, §10.5; SPEC §5).

The code itself never reaches the database: every lookup DOT makes by code goes through
`_grant`, which hashes first. A code is claimed once, atomically, when its tokens are saved
(TokenValidatorMixin); the row stays until it expires, so a replay is recognised and revokes
what the code issued.
"""

from __future__ import annotations

import json

from oauthlib.oauth2.rfc6749 import errors

from oauth.models import Grant
from oauth.validators.common import (
    code_digest,
    note_user,
    revoke_family_recorded,
    user_may_use_app,
)


class AuthorizationCodeValidatorMixin:
    # -- authorization codes, stored as digests (RFC 6749 §4.1.2, §10.5) ----------------------
    def _grant(self, code, client=None) -> Grant | None:
        if not isinstance(code, str) or not code:
            return None
        grants = Grant.objects.filter(code=code_digest(code))
        if client is not None:
            grants = grants.filter(application=client)
        return grants.first()

    def _create_authorization_code(self, request, code, expires=None):
        return super()._create_authorization_code(
            request, {**code, "code": code_digest(code["code"])}, expires
        )

    def validate_code(self, client_id, code, client, request, *args, **kwargs) -> bool:
        grant = self._grant(code, client)
        if grant is None:
            return False
        if grant.used_at is not None:
            # RFC 6749 §4.1.2: a code used twice revokes the tokens issued from it.
            revoke_family_recorded(request, grant.token_family, reason="authorization_code_replay")
            return False
        if grant.is_expired() or not user_may_use_app(grant.user, client):
            return False
        request.scopes = grant.scope.split(" ")
        request.user = grant.user
        if grant.nonce:
            request.nonce = grant.nonce
        if grant.claims:
            request.claims = json.loads(grant.claims)
        request.doorman_grant = grant
        note_user(request)
        return True

    def confirm_redirect_uri(
        self, client_id, code, redirect_uri, client, request=None, *args, **kwargs
    ) -> bool:
        # RFC 6749 §4.1.3 / §5.2: identical to the authorization request's, else invalid_grant
        # (oauthlib would say invalid_request).
        grant = self._grant(code, client)
        if grant is None or not grant.redirect_uri_allowed(redirect_uri):
            raise errors.InvalidGrantError(
                description="redirect_uri does not match the authorization request.",
                request=request,
            )
        return True

    def get_code_challenge(self, code, request):
        grant = self._grant(code, request.client)
        return (grant.code_challenge or None) if grant else None

    def get_code_challenge_method(self, code, request):
        # Only S256 was ever accepted at /authorize; anything else stored is "not found"
        # (invalid_grant) rather than oauthlib's server_error.
        grant = self._grant(code, request.client)
        return "S256" if grant is not None and grant.code_challenge_method == "S256" else None

    def get_authorization_code_scopes(self, client_id, code, redirect_uri, request) -> list[str]:
        grant = self._grant(code)
        return grant.scope.split() if grant else []

    def get_authorization_code_nonce(self, client_id, code, redirect_uri, request):
        grant = self._grant(code)
        return (grant.nonce or None) if grant else None

    def invalidate_authorization_code(self, client_id, code, request, *args, **kwargs) -> None:
        """Nothing to do: save_bearer_token claimed the code (used_at), and the row stays
        until it expires so that a replay can be recognised and its tokens revoked."""
