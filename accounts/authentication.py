"""DRF authentication for the resource APIs."""

from __future__ import annotations

from rest_framework.authentication import SessionAuthentication


class PortalSessionAuthentication(SessionAuthentication):
    """The portal's session cookie (CSRF enforced on unsafe methods).

    A request with no credentials gets `401` with `WWW-Authenticate: Bearer` and no error code
    (RFC 6750 §3.1), not DRF's default `403`.
    """

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="doorman"'
