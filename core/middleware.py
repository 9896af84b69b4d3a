"""A short way through the middleware stack for machine-to-machine requests.

The OAuth token, introspection and revocation endpoints, and resource API calls carrying a
bearer token, never use a session, a CSRF cookie, messages, the portal's user or allauth: they
authenticate on their own (client credentials, RFC 6750 bearer tokens). For them the rest of
the stack costs a quarter of a token request, so this middleware (right after
SecurityMiddleware, whose headers they keep) calls their view itself, with the URL resolution
remembered per path. Every other request goes down the full stack unchanged.
"""

from __future__ import annotations

from functools import lru_cache

from django.core.handlers.exception import response_for_exception
from django.urls import Resolver404, ResolverMatch, resolve

OAUTH_MACHINE_PATHS = frozenset(
    {
        "/accounts/api/v2/oauth2/token",
        "/accounts/api/v2/oauth2/introspect",
        "/accounts/api/v2/oauth2/revoke",
    }
)
BEARER_API_PREFIX = "/accounts/api/"
# Under the API prefix but a browser's page: it needs the session whatever headers come along
# (an Authorization: Bearer header there left it without a user, a 500).
BROWSER_PATHS = frozenset({"/accounts/api/v2/oauth2/authorize"})


def is_machine_request(request) -> bool:
    path = request.path_info
    if path in OAUTH_MACHINE_PATHS:
        return True
    if not path.startswith(BEARER_API_PREFIX) or path in BROWSER_PATHS:
        return False
    return request.META.get("HTTP_AUTHORIZATION", "")[:7].lower() == "bearer "


@lru_cache(maxsize=4096)
def _resolve(path: str) -> ResolverMatch | None:
    try:
        return resolve(path)
    except Resolver404:
        return None


class MachineRequestMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        if not is_machine_request(request):
            return self.get_response(request)
        match = _resolve(request.path_info)
        if match is None:
            return self.get_response(request)  # the full stack answers its 404
        request.resolver_match = match
        try:
            response = match.func(request, *match.args, **match.kwargs)
            if hasattr(response, "render") and callable(response.render):
                response = response.render()
        except Exception as exc:  # what Django's handler would answer, never a traceback
            response = response_for_exception(request, exc)
        response.setdefault("X-Frame-Options", "DENY")
        return response
