"""The oauthlib server class (DOT's OAUTH2_SERVER_CLASS / OIDC_SERVER_CLASS seam).

oauthlib's OpenID Connect server, narrowed to what DOT's views still ask of it (SPEC §4, §5):
the authorization endpoint (the `code` response type only, PKCE with S256 only), revocation,
introspection and userinfo. It serves no grant: the token endpoint is the token engine's
(oauth.engine), which decides every grant, device flow and implicit not among them.
"""

from __future__ import annotations

from oauthlib.oauth2.rfc6749.grant_types.authorization_code import code_challenge_method_s256
from oauthlib.openid import Server


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
        self._grant_types = {}  # the token engine's (oauth.engine.endpoint.GRANTS)
        self._response_types = {"code": self.auth_grant_choice}
