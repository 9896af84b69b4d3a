"""OIDC discovery, JWKS and userinfo (OIDC Discovery §3, §4, RFC 7517, OIDC Core §5.3)."""

from __future__ import annotations

import json

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.views import ConnectDiscoveryInfoView, JwksInfoView, UserInfoView

from accounts.catalog import ALL_SCOPES
from accounts.sign_ins import ACR_VALUES
from connected_apps.models import GrantType
from oauth.errors import REALM, BearerError, MethodNotAllowed
from oauth.keys import SIGNING_ALGORITHM, published_keys
from oauth.oidc import CLAIMS_SUPPORTED
from oauth.principals import access_token_resolve

CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]
# RFC 7523 assertions (private_key_jwt and the jwt-bearer grant): asymmetric only (SPEC §5).
CLIENT_ASSERTION_ALGORITHMS = ["RS256", "PS256", "ES256"]


def endpoint_url(name: str) -> str:
    """Absolute URL of an endpoint under the issuer (SPEC §4 paths, from DOORMAN_BASE_URL)."""
    return f"{settings.DOORMAN_ISSUER}/{name}"


def provider_metadata() -> dict:
    """OIDC Discovery §3 (with RFC 8414's revocation/introspection entries)."""
    metadata = {
        "issuer": settings.DOORMAN_ISSUER,
        "authorization_endpoint": endpoint_url("authorize"),
        "token_endpoint": endpoint_url("token"),
        "userinfo_endpoint": endpoint_url("userinfo"),
        "jwks_uri": endpoint_url("jwks"),
        "revocation_endpoint": endpoint_url("revoke"),
        "introspection_endpoint": endpoint_url("introspect"),
        "scopes_supported": list(ALL_SCOPES),
        "grant_types_supported": list(GrantType.values),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": CLIENT_ASSERTION_ALGORITHMS,
        "revocation_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "introspection_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "id_token_signing_alg_values_supported": [SIGNING_ALGORITHM],
        "subject_types_supported": ["public"],
        "claims_supported": list(CLAIMS_SUPPORTED),
        "prompt_values_supported": ["none", "login", "consent"],
        "acr_values_supported": list(ACR_VALUES),
        "request_parameter_supported": False,  # OIDC Core §6: request_not_supported
        "request_uri_parameter_supported": False,
    }
    if oauth2_settings.COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS:
        metadata["authorization_response_iss_parameter_supported"] = True  # RFC 9207 §3
    return metadata


class JsonMethodNotAllowed:
    """A method the endpoint does not take is a JSON 405 with `Allow` (never Django's empty
    HTML one); public GET endpoints take no cookie, so a POST meets no CSRF page first."""

    def http_method_not_allowed(self, request, *args, **kwargs) -> HttpResponse:
        allowed = tuple(m.upper() for m in self.http_method_names if hasattr(self, m))
        return MethodNotAllowed(allowed).response()


@method_decorator(csrf_exempt, name="dispatch")
class DoormanDiscoveryView(JsonMethodNotAllowed, ConnectDiscoveryInfoView):
    """Served at /.well-known/openid-configuration and under the issuer path."""

    def get(self, request, *args, **kwargs):
        response = JsonResponse(provider_metadata())
        response["Access-Control-Allow-Origin"] = "*"
        response["Cache-Control"] = "public, max-age=3600"
        return response


@method_decorator(csrf_exempt, name="dispatch")
class DoormanJwksView(JsonMethodNotAllowed, JwksInfoView):
    """RFC 7517 key set: the active signing key and the recently retired ones (oauth.keys)."""

    def get(self, request, *args, **kwargs):
        response = JsonResponse({"keys": published_keys()})
        max_age = oauth2_settings.OIDC_JWKS_MAX_AGE_SECONDS
        response["Access-Control-Allow-Origin"] = "*"
        response["Cache-Control"] = f"public, max-age={max_age}"
        return response


def _bearer_error(status: int, error: str, description: str, challenge: str) -> HttpResponse:
    return BearerError(error, description, status, challenge=challenge).response()


def _presented_token(request) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.POST.get("access_token") if request.method == "POST" else None


class DoormanUserInfoView(JsonMethodNotAllowed, UserInfoView):
    """OIDC Core §5.3: claims about the token's user, per the token's effective scopes.

    The token is checked by the validator's validate_bearer_token (oauth.principals), so a
    token dies here on the request after its app is disabled or its authorization revoked.
    Errors are RFC 6750 §3: 401 with a Bearer challenge, 403 insufficient_scope without openid.
    """

    def _create_userinfo_response(self, request):
        if "access_token" in request.GET:
            # RFC 6750 §2.3: tokens in URLs leak into logs and referrers.
            return _bearer_error(
                400,
                "invalid_request",
                "Send the access token in the Authorization header.",
                f'Bearer realm="{REALM}", error="invalid_request"',
            )
        raw = _presented_token(request)
        if raw is None:
            # RFC 6750 §3.1: no error code when the request carried no credentials.
            return _bearer_error(
                401, "invalid_request", "An access token is required.", f'Bearer realm="{REALM}"'
            )
        _uri, _headers, body, status = self.create_userinfo_response(request)
        if status == 401:
            principal = access_token_resolve(raw)
            if principal is not None and principal.user is not None:
                return _bearer_error(
                    403,
                    "insufficient_scope",
                    "The access token does not hold the openid scope.",
                    f'Bearer realm="{REALM}", error="insufficient_scope", scope="openid"',
                )
            return _bearer_error(
                401,
                "invalid_token",
                "The access token is invalid, expired or revoked.",
                f'Bearer realm="{REALM}", error="invalid_token"',
            )
        if status != 200:
            description = "The userinfo request failed."
            try:
                payload = json.loads(body or "{}")
            except ValueError:
                payload = {}
            error = payload.get("error", "invalid_request")
            description = payload.get("error_description", description)
            return _bearer_error(status, error, description, f'Bearer realm="{REALM}"')
        response = HttpResponse(body, status=200, content_type="application/json")
        response["Cache-Control"] = "no-store"
        return response
