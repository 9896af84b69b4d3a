"""The oauthlib server class (DOT's OAUTH2_SERVER_CLASS / OIDC_SERVER_CLASS seam).

oauthlib's OpenID Connect server, narrowed to what Doorman offers (SPEC §4, §5): the five
grants (RFC 7523 jwt-bearer added, device flow dropped), the `code` response type only, and
PKCE with S256 only.
"""

from __future__ import annotations

from oauthlib.oauth2.rfc6749 import errors
from oauthlib.oauth2.rfc6749.grant_types.authorization_code import code_challenge_method_s256
from oauthlib.openid import Server

from oauth.grants import JWT_BEARER, JWTBearerGrant, UnsupportedGrant

# A challenge is BASE64URL(SHA256(verifier)) (RFC 7636 §4.2): always 43 characters.
CODE_CHALLENGE_LENGTH = 43
CODE_CHALLENGE_ALPHABET = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
)
MAX_NONCE_LENGTH = 255


def _check_authorization_parameters(request) -> dict:
    """RFC 7636 §4.2 / OIDC Core §3.1.2.1: refuse a challenge or nonce that is malformed or
    too long for its column, at the authorization request rather than at the consent POST."""
    challenge = request.code_challenge
    if challenge is not None and (
        len(challenge) != CODE_CHALLENGE_LENGTH or not set(challenge) <= CODE_CHALLENGE_ALPHABET
    ):
        raise errors.InvalidRequestError(
            description="code_challenge must be a BASE64URL-encoded SHA-256 digest.",
            request=request,
        )
    nonce = request.nonce
    if nonce is not None and (len(nonce) > MAX_NONCE_LENGTH or "\x00" in nonce):
        raise errors.InvalidRequestError(description="nonce is too long.", request=request)
    return {}


class DoormanServer(Server):
    def __init__(
        self,
        request_validator,
        token_expires_in=None,
        token_generator=None,
        refresh_token_generator=None,
        *args,
        **kwargs,
    ):
        super().__init__(
            request_validator,
            token_expires_in,
            token_generator,
            refresh_token_generator,
            *args,
            **kwargs,
        )
        # RFC 9700 §2.1.1: S256 only. oauthlib defaults a missing method to "plain", which
        # then fails this check too, so a challenge without a method is refused as well.
        s256_only = {"S256": code_challenge_method_s256}
        for grant in (self.auth_grant, self.openid_connect_auth.proxy_target):
            grant._code_challenge_methods = s256_only
            grant.custom_validators.pre_auth.append(_check_authorization_parameters)
        # Not forwarding **kwargs: they carry DOT's device-flow settings.
        self.jwt_bearer_grant = JWTBearerGrant(request_validator)
        self.unsupported_grant = UnsupportedGrant(request_validator)
        self._grant_types = {
            "authorization_code": self.token_grant_choice,
            "refresh_token": self.refresh_grant,
            "password": self.password_grant,
            "client_credentials": self.credentials_grant,
            JWT_BEARER: self.jwt_bearer_grant,
        }
        self._response_types = {"code": self.auth_grant_choice}

    @property
    def default_grant_type_handler(self):
        """oauthlib sends an unknown grant_type to the default grant; refuse it instead."""
        return self.unsupported_grant
