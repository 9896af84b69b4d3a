"""OIDC parts of the validator: claims, userinfo, silent login (mixed into DoormanValidator).

Claims follow OIDC Core §5.4 (`profile` and `email` scopes) and SPEC §3: `openid` alone tells
the app who the user is (`sub` = the user's UUID, `username`, `preferred_username`, `org_id`).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from oauth2_provider.oauth2_validators import OAuth2Validator

from accounts.catalog import SpecialScope
from oauth.errors import OAuthError
from oauth.principals import access_token_resolve

# RFC 6750 §3.1, as DOT's bearer checks hand them to oauthlib.
INVALID_TOKEN = OAuthError(
    "The access token is invalid, expired or revoked.", error="invalid_token", status_code=401
)
INSUFFICIENT_SCOPE = OAuthError(
    "The access token lacks a required scope.", error="insufficient_scope", status_code=403
)

# Claim -> the scope that releases it. DOT drops every claim not named here (get_oidc_claims).
OIDC_CLAIM_SCOPE: dict[str, str] = {
    **OAuth2Validator.oidc_claim_scope,
    "sub": SpecialScope.OPENID,
    "username": SpecialScope.OPENID,
    "preferred_username": SpecialScope.OPENID,
    "org_id": SpecialScope.OPENID,
    "name": SpecialScope.PROFILE,
    "given_name": SpecialScope.PROFILE,
    "family_name": SpecialScope.PROFILE,
    "email": SpecialScope.EMAIL,
}

# What discovery advertises in `claims_supported`: the user claims above plus the ID token's own.
CLAIMS_SUPPORTED: tuple[str, ...] = (
    "sub",
    "username",
    "preferred_username",
    "org_id",
    "name",
    "given_name",
    "family_name",
    "email",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "amr",
    "acr",
    "nonce",
    "at_hash",
    "jti",
)


def user_claims(user: Any) -> dict[str, str]:
    """Every claim Doorman can state about `user`; scopes decide which are released."""
    claims = {
        "sub": str(user.pk),
        "username": user.username,
        "preferred_username": user.username,
        "org_id": str(user.organization_id),
        "name": user.get_full_name(),
        "given_name": user.first_name,
        "family_name": user.last_name,
        "email": user.email,
    }
    # OIDC Core §5.3.2: a claim without a value is omitted, not sent empty.
    return {name: value for name, value in claims.items() if value}


class OIDCValidatorMixin:
    oidc_claim_scope = OIDC_CLAIM_SCOPE

    # -- claims ----------------------------------------------------------------------------------
    def get_additional_claims(self, request) -> dict[str, str]:
        """Claims for the ID token and userinfo (two-argument form: per request, OIDC Core §2)."""
        if request.user is None:  # own-behalf tokens have no user and never hold openid
            return {}
        return user_claims(request.user)

    def get_claim_dict(self, request) -> dict[str, Any]:
        if request.user is None:
            return {}
        return super().get_claim_dict(request)

    def get_discovery_claims(self, request) -> list[str]:
        return list(CLAIMS_SUPPORTED)

    def get_userinfo_claims(self, request) -> dict[str, Any]:
        """OIDC Core §5.3.2: the claims the token's *effective* scopes release (set by
        validate_bearer_token), so a scope removed from the app stops releasing its claims."""
        return self.get_oidc_claims(request.access_token, None, request)

    # -- silent authentication -------------------------------------------------------------------
    # oauthlib asks these while validating `prompt=none` (OIDC Core §3.1.2.1), but it has no
    # session: the authorization view answers login_required / consent_required itself before
    # asking oauthlib for a code, so by then both questions are settled.
    def validate_silent_login(self, request) -> bool:
        return True

    def validate_silent_authorization(self, request) -> bool:
        return True

    # -- bearer tokens (userinfo) ----------------------------------------------------------------
    def validate_jwt_bearer_token(self, token, scopes, request) -> bool:
        """An ID token is never an access token (oauthlib's "JWT" token type would accept one)."""
        return False

    def validate_bearer_token(self, token, scopes, request) -> bool:
        """RFC 6750 §3.1 via oauth.principals: dead tokens (revoked, expired, app disabled or
        deleted, no scope still held) are invalid_token; a live one lacking `scopes` is
        insufficient_scope. `request.scopes` becomes the token's effective scopes."""
        principal = access_token_resolve(token or "")
        if principal is None or principal.user is None:
            request.oauth2_error = OrderedDict(INVALID_TOKEN.body())
            return False
        request.client = principal.app
        request.user = principal.user
        request.scopes = sorted(principal.effective_scopes)
        request.access_token = principal.token
        if not set(scopes or ()) <= principal.effective_scopes:
            request.oauth2_error = OrderedDict(INSUFFICIENT_SCOPE.body())
            return False
        return True
