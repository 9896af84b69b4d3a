"""DRF authentication by bearer token for every resource API (RFC 6750).

The token is resolved on every request (oauth.principals.access_token_resolve): a revoked or
narrowed token stops working on the request after the change. `request.auth` is the
TokenPrincipal; views take their permission check from `request.auth.access`.
"""

from __future__ import annotations

from rest_framework import HTTP_HEADER_ENCODING, exceptions
from rest_framework.authentication import BaseAuthentication

from oauth.principals import TokenPrincipal, access_token_resolve

REALM = "doorman"


class InvalidToken(exceptions.AuthenticationFailed):
    default_detail = "The access token is invalid, expired or revoked."
    default_code = "invalid_token"


class BearerTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer <token>`; other schemes fall through to session auth."""

    def authenticate(self, request):
        header = authorization_header(request).split()
        if not header or header[0].lower() != b"bearer":
            return None
        request._bearer_attempted = True
        if len(header) != 2:
            raise InvalidToken("Malformed Authorization header.")
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise InvalidToken() from exc
        principal = access_token_resolve(raw)
        if principal is None or principal.request_user is None:
            raise InvalidToken()
        return (principal.request_user, principal)

    def authenticate_header(self, request) -> str:
        # RFC 6750 §3.1: no error code when no credentials were sent.
        if getattr(request, "_bearer_attempted", False):
            return f'Bearer realm="{REALM}", error="invalid_token"'
        return f'Bearer realm="{REALM}"'


def authorization_header(request) -> bytes:
    """The `Authorization` header as bytes, as DRF's get_authorization_header gives it, read
    from META: `request.headers`, which DRF's reads, builds a mapping of every header first."""
    value = request.META.get("HTTP_AUTHORIZATION", b"")
    if isinstance(value, str):
        value = value.encode(HTTP_HEADER_ENCODING)
    return value


def insufficient_scope_header(scope: str | None = None) -> str:
    """RFC 6750 §3.1 challenge for a live token lacking the scope or permission."""
    suffix = f', scope="{scope}"' if scope else ""
    return f'Bearer realm="{REALM}", error="insufficient_scope"{suffix}'


def is_bearer_request(request) -> bool:
    return isinstance(getattr(request, "auth", None), TokenPrincipal)
