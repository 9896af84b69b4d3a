"""How the resource APIs authenticate, as OpenAPI security schemes: a bearer access token
(`bearerAuth`, RFC 6750) or the portal's session cookie (`cookieAuth`)."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension

BEARER_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "An access token from the token endpoint (or `POST /accounts/login`). Its "
    "power is the scopes granted to it, the scopes its app still holds and what its user may "
    "do now.",
}


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "oauth.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema) -> dict:
        return BEARER_SCHEME


class PortalSessionScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.PortalSessionAuthentication"
    name = "cookieAuth"
    priority = 1  # before drf-spectacular's own scheme for SessionAuthentication

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": settings.SESSION_COOKIE_NAME,
            "description": "A signed-in portal session. Unsafe methods also need the "
            f"`{settings.CSRF_COOKIE_NAME}` cookie's value in the X-CSRFToken header.",
        }
