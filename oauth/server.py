"""The oauthlib server class (DOT's OAUTH2_SERVER_CLASS / OIDC_SERVER_CLASS seam).

oauthlib's OpenID Connect server, narrowed to what Doorman offers (SPEC §4, §5): the five
grants (RFC 7523 jwt-bearer added, device flow dropped), the `code` response type only, and
PKCE with S256 only. Every grant that acts for a user returns an id_token when `openid` is
granted: oauthlib's code and refresh grants do, the password and jwt-bearer grants are
wrapped the same way (oauth.grants.OpenIDUserGrant).
"""

from __future__ import annotations

from oauthlib.oauth2.rfc6749.grant_types.authorization_code import code_challenge_method_s256
from oauthlib.openid import Server

from oauth.grants import JWT_BEARER, JWTBearerGrant, OpenIDUserGrant, UnsupportedGrant


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
        # (Shape and length of the challenge and nonce: the authorization view checks them.)
        for grant in (self.auth_grant, self.openid_connect_auth.proxy_target):
            grant._code_challenge_methods = s256_only
        # Not forwarding **kwargs: they carry DOT's device-flow settings.
        self.jwt_bearer_grant = OpenIDUserGrant(JWTBearerGrant(request_validator))
        self.password_grant = OpenIDUserGrant(self.password_grant)
        self.unsupported_grant = UnsupportedGrant(request_validator)
        self._grant_types = {
            "authorization_code": self.token_grant_choice,
            "password": self.password_grant,
            "client_credentials": self.credentials_grant,
            JWT_BEARER: self.jwt_bearer_grant,
        }
        self._response_types = {"code": self.auth_grant_choice}

    @property
    def default_grant_type_handler(self):
        """oauthlib sends an unknown grant_type to the default grant; refuse it instead."""
        return self.unsupported_grant
