"""A token request as the engine's grants see it: the parsed parameters, the client
credentials header, what the endpoint view learns (for its audit event and rate limits)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from django.http import HttpRequest
from oauth2_provider.oauth2_validators import _parse_and_validate_uri

from audit.services import RequestMeta
from oauth.backends import EndpointContext
from oauth.engine.clients import ClientIdentity
from oauth.errors import InvalidTarget
from oauth.issuance import request_meta


@dataclass
class TokenRequest:
    http: HttpRequest
    params: dict[str, str]
    context: EndpointContext
    identity: ClientIdentity | None = field(default=None)

    @property
    def grant_type(self) -> str:
        return self.params.get("grant_type", "")

    @property
    def authorization(self) -> str | None:
        return self.http.META.get("HTTP_AUTHORIZATION")

    @cached_property
    def meta(self) -> RequestMeta:
        return request_meta(self.http.META)

    def client_is(self, identity: ClientIdentity) -> None:
        """Tell the endpoint which app the request named, and whether it proved it."""
        self.identity = identity
        if identity.app is not None:
            self.context.client = identity.app
            self.context.authenticated = self.context.authenticated or identity.authenticated

    def user_is(self, user) -> None:
        self.context.user = user


def requested_resource(req: TokenRequest) -> list[str]:
    """RFC 8707 §2: the `resource` the request names, as DOT checks it (an absolute URI
    with a scheme and host, no userinfo or fragment); [] for none."""
    resource = req.params.get("resource")
    if not resource or not resource.strip():
        return []
    if _parse_and_validate_uri(resource) is None:
        raise InvalidTarget(
            f"The resource '{resource[:200]}' is not a valid resource indicator: "
            "it must be an absolute URI with a scheme and host."
        )
    return [resource]
