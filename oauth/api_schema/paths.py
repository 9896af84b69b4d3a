"""The authorization server's endpoints as a hand-written OpenAPI fragment.

They are plain Django views (django-oauth-toolkit's, customized in oauth/views/), which
drf-spectacular does not see; `oauth.api_schema.add_authorization_server` merges this fragment
into the generated schema. Paths are SPEC §4's; bodies follow the RFC each endpoint cites.
"""

from __future__ import annotations

from typing import Any

ISSUER_PATH = "/accounts/api/v2/oauth2"
TAG = "OAuth 2.0 and OpenID Connect"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema_name: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": _ref(schema_name)}}}


def _oauth_error(description: str) -> dict[str, Any]:
    return _json("OAuthError", description)


def _body(schema_name: str) -> dict[str, Any]:
    """A request body taken as a form or as JSON (oauth.backends.parse_oauth_body)."""
    schema = {"schema": _ref(schema_name)}
    return {"required": True, "content": {FORM: schema, JSON: schema}}


def _query(name: str, description: str, *, required: bool = False, **schema: Any) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": {"type": "string", **schema},
    }


# A client authenticates with HTTP Basic, with client_id/client_secret in the body, or with a
# private_key_jwt assertion in the body (RFC 6749 §2.3, RFC 7523 §2.2): Basic, or no scheme.
CLIENT_SECURITY = [{"clientBasic": []}, {}]
CLIENT_REFUSED = _oauth_error(
    "`invalid_client`: client authentication failed (with `WWW-Authenticate: Basic`)."
)


def _authorize() -> dict[str, Any]:
    return {
        "get": {
            "operationId": "oauth2_authorize",
            "tags": [TAG],
            "summary": "Start an authorization-code flow (RFC 6749 §4.1.1, OIDC Core §3.1.2)",
            "description": "Opened in the user's browser. Signs the user in if needed, then "
            "shows the Authorize App consent screen (skipped when a live consent already "
            "covers every scope). Allow redirects to `redirect_uri` with `code`, `state` and "
            "`iss` (RFC 9207); Deny, a disabled app or an org control redirects with "
            "`error=access_denied`. An unknown client or an unregistered redirect URI gets "
            "an error page, never a redirect. PKCE with S256 is required.",
            "parameters": [
                _query("response_type", "Only `code`.", required=True, enum=["code"]),
                _query("client_id", "The app's client id.", required=True),
                _query(
                    "redirect_uri",
                    "One of the app's registered redirect URIs, exactly.",
                    required=True,
                    format="uri",
                ),
                _query("scope", "Space-separated scopes the app holds."),
                _query("state", "Opaque value echoed back; use it against CSRF."),
                _query("nonce", "Echoed in the id_token's `nonce` claim."),
                _query(
                    "code_challenge",
                    "BASE64URL(SHA-256(code_verifier)) without padding (RFC 7636 §4.2).",
                    required=True,
                    pattern="^[A-Za-z0-9_-]{43}$",
                ),
                _query("code_challenge_method", "Only S256.", required=True, enum=["S256"]),
                _query(
                    "prompt",
                    "`none` (no UI: login_required / consent_required errors), `login`, or "
                    "`consent`.",
                    enum=["none", "login", "consent"],
                ),
                _query("response_mode", "Only `query`.", enum=["query"]),
            ],
            "responses": {
                "200": {
                    "description": "The Authorize App consent screen.",
                    "content": {"text/html": {"schema": {"type": "string"}}},
                },
                "302": {
                    "description": "To the login page, or back to `redirect_uri` with `code`, "
                    "`state`, `iss` — or with `error`, `error_description`, `state`.",
                    "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}},
                },
                "400": {
                    "description": "Error page: unknown client, unregistered redirect URI or "
                    "malformed request.",
                    "content": {"text/html": {"schema": {"type": "string"}}},
                },
            },
        }
    }


def _client_post(
    operation_id: str, summary: str, description: str, request: str, ok: dict[str, Any]
) -> dict[str, Any]:
    return {
        "post": {
            "operationId": operation_id,
            "tags": [TAG],
            "summary": summary,
            "description": description,
            "security": CLIENT_SECURITY,
            "requestBody": _body(request),
            "responses": {
                "200": ok,
                "400": _oauth_error("The request or grant was refused (RFC 6749 §5.2)."),
                "401": CLIENT_REFUSED,
                "413": _oauth_error("The request body is too large."),
                "429": _oauth_error("Too many failed sign-ins; retry after `Retry-After`."),
                "503": _oauth_error("Temporarily unavailable; retry after `Retry-After`."),
            },
        }
    }


def _userinfo_operation(method: str) -> dict[str, Any]:
    return {
        "operationId": f"oauth2_userinfo_{method}",
        "tags": [TAG],
        "summary": "Claims about the token's user (OIDC Core §5.3)",
        "description": "Needs a token holding `openid`; `profile` and `email` release more.",
        "security": [{"bearerAuth": []}],
        "responses": {
            "200": _json("UserInfo", "The released claims."),
            "400": _oauth_error("The token was sent in the URL."),
            "401": _oauth_error("No token, or an invalid, expired or revoked one."),
            "403": _oauth_error("`insufficient_scope`: the token does not hold openid."),
        },
    }


def _discovery() -> dict[str, Any]:
    return {
        "get": {
            "tags": [TAG],
            "summary": "OpenID Connect discovery (OIDC Discovery §4)",
            "responses": {"200": _json("ProviderMetadata", "The provider's metadata.")},
        }
    }


def paths() -> dict[str, Any]:
    """The fragment's paths, by SPEC §4 path."""
    root_discovery = _discovery()
    root_discovery["get"]["operationId"] = "openid_configuration"
    issuer_discovery = _discovery()
    issuer_discovery["get"]["operationId"] = "oauth2_openid_configuration"
    return {
        "/.well-known/openid-configuration": root_discovery,
        f"{ISSUER_PATH}/.well-known/openid-configuration": issuer_discovery,
        f"{ISSUER_PATH}/authorize": _authorize(),
        f"{ISSUER_PATH}/token": _client_post(
            "oauth2_token",
            "Exchange a grant for tokens (RFC 6749 §3.2)",
            "Form or JSON body. Grants: authorization_code (+ PKCE code_verifier), "
            "refresh_token (rotated on every use; a reused one revokes its family), password, "
            "jwt-bearer (RFC 7523) and client_credentials. Client authentication: HTTP Basic, "
            "client_id/client_secret in the body, or private_key_jwt.",
            "TokenRequest",
            _json("TokenResponse", "The tokens (`Cache-Control: no-store`)."),
        ),
        f"{ISSUER_PATH}/introspect": _client_post(
            "oauth2_introspect",
            "Is this token active, and what may it do? (RFC 7662)",
            "The caller authenticates as a client, as at the token endpoint.",
            "TokenActionRequest",
            _json("IntrospectionResponse", "The token's state."),
        ),
        f"{ISSUER_PATH}/revoke": _client_post(
            "oauth2_revoke",
            "Revoke an access or refresh token (RFC 7009)",
            "Revoking an access or refresh token revokes its whole token family (every token "
            "its grant and the refreshes since issued). An unknown token is answered 200 as "
            "well (RFC 7009 §2.2).",
            "TokenActionRequest",
            {
                "description": "Revoked (or never valid).",
                "content": {JSON: {"schema": {"type": "object"}}},
            },
        ),
        f"{ISSUER_PATH}/userinfo": {
            "get": _userinfo_operation("get"),
            "post": _userinfo_operation("post"),
        },
        f"{ISSUER_PATH}/jwks": {
            "get": {
                "operationId": "oauth2_jwks",
                "tags": [TAG],
                "summary": "Keys that verify id_token signatures (RFC 7517)",
                "responses": {"200": _json("JsonWebKeySet", "The key set.")},
            }
        },
        "/accounts/login": {
            "post": {
                "operationId": "platform_login",
                "tags": [TAG],
                "summary": "A user's own platform token",
                "description": "Username and password (form or JSON) for a bearer token "
                "carrying `full` for that user. Throttled like the password grant.",
                "requestBody": _body("PlatformLoginRequest"),
                "responses": {
                    "200": _json("PlatformToken", "The token."),
                    "400": _oauth_error("`invalid_request`: a field is missing."),
                    "401": _oauth_error("`invalid_grant`: wrong username or password."),
                    "413": _oauth_error("The request body is too large."),
                    "429": _oauth_error("Too many failed sign-ins; retry after `Retry-After`."),
                    "503": _oauth_error("Temporarily unavailable; retry after `Retry-After`."),
                },
            }
        },
    }


SECURITY_SCHEMES = {
    "clientBasic": {
        "type": "http",
        "scheme": "basic",
        "description": "An app's client_id and client_secret (RFC 6749 §2.3.1).",
    },
}
