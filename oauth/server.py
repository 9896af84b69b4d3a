"""The oauthlib server class (DOT's OAUTH2_SERVER_CLASS / OIDC_SERVER_CLASS seam).

oauthlib's OpenID Connect server, narrowed to what DOT's views still ask of it (SPEC §4, §5):
the authorization endpoint (the `code` response type only, PKCE with S256 only), revocation,
introspection and userinfo. It serves no grant: the token endpoint is the token engine's
(oauth.engine), which decides every grant, device flow and implicit not among them.
"""

from __future__ import annotations

from functools import cached_property

from oauthlib.common import Request
from oauthlib.oauth2.rfc6749 import utils
from oauthlib.oauth2.rfc6749.endpoints.base import catch_errors_and_unavailability
from oauthlib.oauth2.rfc6749.grant_types.authorization_code import code_challenge_method_s256
from oauthlib.openid import Server


class ParsedOnceRequest(Request):
    """oauthlib's request, parsing its query string once: oauthlib parses it again each time
    it looks for a duplicate parameter (five times per authorization request)."""

    @cached_property
    def uri_query_params(self) -> list[tuple[str, str]]:
        return Request.uri_query_params.fget(self)

    @cached_property
    def duplicate_params(self) -> list[str]:
        return Request.duplicate_params.fget(self)


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

    @catch_errors_and_unavailability
    def validate_authorization_request(self, uri, http_method="GET", body=None, headers=None):
        """oauthlib's AuthorizationEndpoint method, with a `ParsedOnceRequest`."""
        request = ParsedOnceRequest(uri, http_method=http_method, body=body, headers=headers)
        request.scopes = utils.scope_to_list(request.scope)
        handler = self.response_types.get(request.response_type, self.default_response_type_handler)
        return handler.validate_authorization_request(request)
