"""Component schemas of the authorization server's OpenAPI fragment (oauth.api_schema.paths):
the bodies of the token, introspection, revocation, userinfo, JWKS and discovery endpoints and
of `POST /accounts/login`, as the RFC each endpoint cites defines them."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from accounts.catalog import ALL_SCOPES
from connected_apps.models import GrantType
from oauth.oidc import CLAIMS_SUPPORTED
from oauth.views.oidc import CLIENT_AUTH_METHODS

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def string(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


# Client authentication in the body: client_secret_post or private_key_jwt (RFC 6749 §2.3.1,
# RFC 7523 §2.2).
CLIENT_AUTH_FIELDS = {
    "client_id": string("The app's client id (client_secret_post, private_key_jwt)."),
    "client_secret": string("The app's secret (client_secret_post)."),
    "client_assertion_type": string(
        "private_key_jwt (RFC 7523 §2.2).", enum=[CLIENT_ASSERTION_TYPE]
    ),
    "client_assertion": string("A JWT signed by one of the app's public keys."),
}


def schemas() -> dict[str, Any]:
    """Component schemas of the fragment."""
    lifetime = settings.DOORMAN_ACCESS_TOKEN_LIFETIME
    return {
        "OAuthError": {
            "type": "object",
            "description": "RFC 6749 §5.2 error.",
            "required": ["error"],
            "properties": {
                "error": string(
                    "invalid_request, invalid_client, invalid_grant, unauthorized_client, "
                    "unsupported_grant_type, invalid_scope, access_denied, invalid_token, "
                    "insufficient_scope, temporarily_unavailable, server_error"
                ),
                "error_description": string("What went wrong."),
            },
        },
        "TokenRequest": {
            "type": "object",
            "description": "RFC 6749 §4.1.3, §4.3.2, §4.4.2, §6; RFC 7523 §2.1. Which fields "
            "apply depends on `grant_type`.",
            "required": ["grant_type"],
            "properties": {
                "grant_type": string("The grant.", enum=list(GrantType.values)),
                "code": string("authorization_code: the code from the redirect."),
                "redirect_uri": string(
                    "authorization_code: exactly the redirect_uri sent to /authorize."
                ),
                "code_verifier": string(
                    "authorization_code: the PKCE verifier (RFC 7636 §4.5).",
                    minLength=43,
                    maxLength=128,
                ),
                "refresh_token": string("refresh_token: the latest refresh token (rotated)."),
                "username": string("password: the user's username."),
                "password": string("password: the user's password.", format="password"),
                "assertion": string("jwt-bearer: the signed JWT (RFC 7523 §2.1)."),
                "scope": string("Space-separated scopes; defaults to the app's."),
                **CLIENT_AUTH_FIELDS,
            },
        },
        "TokenResponse": {
            "type": "object",
            "description": "RFC 6749 §5.1 (and OIDC Core §3.1.3.3 for `id_token`).",
            "required": ["access_token", "token_type", "expires_in"],
            "properties": {
                "access_token": string("The access token."),
                "token_type": string("Always Bearer.", enum=["Bearer"]),
                "expires_in": {
                    "type": "integer",
                    "description": f"Seconds the access token lives (here {lifetime}).",
                },
                "scope": string("The granted scopes, space-separated."),
                "refresh_token": string(
                    "Only with offline_access (code flow) or the refresh_token grant; 90 days."
                ),
                "id_token": string("Only when openid was granted: a signed JWT with the nonce."),
            },
        },
        "TokenActionRequest": {
            "type": "object",
            "description": "RFC 7009 §2.1, RFC 7662 §2.1: a token and the client's credentials.",
            "required": ["token"],
            "properties": {
                "token": string("The access or refresh token."),
                "token_type_hint": string(
                    "Which kind it is, if known.", enum=["access_token", "refresh_token"]
                ),
                **CLIENT_AUTH_FIELDS,
            },
        },
        "IntrospectionResponse": {
            "type": "object",
            "description": "RFC 7662 §2.2. Only `active` when the token is not active.",
            "required": ["active"],
            "properties": {
                "active": {"type": "boolean"},
                "scope": string("Effective scopes, space-separated."),
                "client_id": string("The app the token was issued to."),
                "username": string("The token's user."),
                "sub": string("The user's id (the app's client id for client_credentials)."),
                "token_type": string("Bearer or refresh_token."),
                "exp": {"type": "integer", "description": "Expiry, seconds since the epoch."},
                "iat": {"type": "integer", "description": "Issue time, seconds since the epoch."},
                "org_id": string("The user's (or the app's) root organization.", format="uuid"),
            },
        },
        "UserInfo": {
            "type": "object",
            "description": "OIDC Core §5.3: the claims the token's scopes release.",
            "required": ["sub"],
            "properties": {
                "sub": string("The user's unique, never-changing id (openid).", format="uuid"),
                "username": string("openid"),
                "preferred_username": string("openid"),
                "org_id": string("openid: the user's root organization.", format="uuid"),
                "name": string("profile"),
                "given_name": string("profile"),
                "family_name": string("profile"),
                "email": string("email", format="email"),
            },
        },
        "JsonWebKeySet": {
            "type": "object",
            "description": "RFC 7517 §5: the signing key and the recently retired ones.",
            "required": ["keys"],
            "properties": {
                "keys": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["kty", "kid"],
                        "properties": {
                            "kty": string("Key type."),
                            "kid": string("Key id, as in the id_token header."),
                            "use": string("sig"),
                            "alg": string("Signing algorithm."),
                            "n": string("RSA modulus."),
                            "e": string("RSA exponent."),
                        },
                        "additionalProperties": True,
                    },
                }
            },
        },
        "ProviderMetadata": {
            "type": "object",
            "description": "OIDC Discovery §3 with RFC 8414's revocation and introspection "
            "entries.",
            "required": ["issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"],
            "properties": {
                "issuer": string("The issuer: {BASE}/accounts/api/v2/oauth2.", format="uri"),
                **{
                    name: string(f"{label} URL.", format="uri")
                    for name, label in (
                        ("authorization_endpoint", "Authorization endpoint"),
                        ("token_endpoint", "Token endpoint"),
                        ("userinfo_endpoint", "Userinfo endpoint"),
                        ("jwks_uri", "JSON Web Key Set"),
                        ("revocation_endpoint", "Revocation endpoint"),
                        ("introspection_endpoint", "Introspection endpoint"),
                    )
                },
                "scopes_supported": {
                    "type": "array",
                    "items": {"type": "string", "enum": list(ALL_SCOPES)},
                },
                "grant_types_supported": {
                    "type": "array",
                    "items": {"type": "string", "enum": list(GrantType.values)},
                },
                "response_types_supported": {"type": "array", "items": {"enum": ["code"]}},
                "code_challenge_methods_supported": {
                    "type": "array",
                    "items": {"enum": ["S256"]},
                },
                "token_endpoint_auth_methods_supported": {
                    "type": "array",
                    "items": {"type": "string", "enum": CLIENT_AUTH_METHODS},
                },
                "id_token_signing_alg_values_supported": {
                    "type": "array",
                    "items": {"type": "string"},
                },
                "claims_supported": {
                    "type": "array",
                    "items": {"type": "string", "enum": list(CLAIMS_SUPPORTED)},
                },
            },
            "additionalProperties": True,
        },
        "PlatformLoginRequest": {
            "type": "object",
            "required": ["username", "password"],
            "properties": {
                "username": string("The user's username.", minLength=1),
                "password": string("The user's password.", format="password", minLength=1),
            },
        },
        "PlatformToken": {
            "type": "object",
            "description": "The user's own platform token: `full` for that user.",
            "required": ["access_token", "token_type", "expires_in"],
            "properties": {
                "access_token": string("Use it as a bearer token."),
                "token_type": string("Always bearer.", enum=["bearer"]),
                "expires_in": {"type": "integer", "description": "Seconds it lives."},
            },
        },
    }
