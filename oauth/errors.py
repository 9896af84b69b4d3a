"""The OAuth 2.0 protocol's errors (RFC 6749 §5.2, RFC 6750 §3.1, RFC 8707 §2): one
hierarchy, each with its class-level `error`, `description` and `status_code`, as
django-oauth-toolkit's `exceptions.py` and Authlib's `rfc6749/errors.py` have them.

This is the one place an RFC 6749 error body is built (`OAuthError.body`, `.response()`):
the token engine raises these where it decides a refusal, and every OAuth endpoint answers
with them. A description is for the client's developer: ASCII, no secret, no user data.
"""

from __future__ import annotations

import json

from django.http import JsonResponse

REALM = "doorman"
# RFC 6749 §5.2: a client that tried HTTP Basic gets the scheme back with a 401.
BASIC_CHALLENGE = f'Basic realm="{REALM}"'


class OAuthError(Exception):
    error = "invalid_request"
    description = "The request is missing a parameter or is otherwise malformed."
    status_code = 400

    def __init__(
        self,
        description: str | None = None,
        *,
        status_code: int | None = None,
        error: str | None = None,
    ) -> None:
        if description is not None:
            self.description = description
        if status_code is not None:
            self.status_code = status_code
        if error is not None:  # a code another component reported (oauthlib's, RFC 6750's)
            self.error = error
        self.retry_after: int | None = None
        super().__init__(self.description)

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}

    def response(self) -> JsonResponse:
        """The JSON error response (RFC 6749 §5.2), never cached (§5.1)."""
        response = JsonResponse(self.body(), status=self.status_code)
        if self.status_code == 401:
            response["WWW-Authenticate"] = BASIC_CHALLENGE
        if self.retry_after and self.status_code in (429, 503):
            response["Retry-After"] = str(self.retry_after)
        response["Cache-Control"] = "no-store"
        response["Pragma"] = "no-cache"
        return response


class InvalidRequest(OAuthError):
    error = "invalid_request"


class MethodNotAllowed(InvalidRequest):
    status_code = 405

    def __init__(self, allowed: tuple[str, ...] = ("POST",)) -> None:
        super().__init__(f"Use {', '.join(allowed)}.")
        self.allowed = allowed

    def response(self) -> JsonResponse:
        response = super().response()
        response["Allow"] = ", ".join(self.allowed)
        return response


class InvalidClient(OAuthError):
    error = "invalid_client"
    description = "Client authentication failed."
    status_code = 401


class InvalidGrant(OAuthError):
    error = "invalid_grant"
    description = "The grant is invalid, expired, revoked or was issued to another client."


class InteractionRequired(OAuthError):
    """OIDC Core §3.1.2.6: the user must interact (a second factor), which this flow cannot."""

    error = "interaction_required"
    description = "The user must sign in interactively."


class UnauthorizedClient(OAuthError):
    error = "unauthorized_client"
    description = "The client is not authorized to use this grant type."


class UnsupportedGrantType(OAuthError):
    error = "unsupported_grant_type"
    description = "The authorization grant type is not supported by this server."


class InvalidScope(OAuthError):
    error = "invalid_scope"
    description = "The requested scope is invalid, unknown, or exceeds what was granted."


class InvalidTarget(OAuthError):  # RFC 8707 §2
    error = "invalid_target"
    description = "The requested resource is invalid, unknown or not allowed."


class BearerError(OAuthError):
    """RFC 6750 §3: a protected resource's refusal of a bearer token, with its challenge
    (`Bearer realm=…, error=…`; no error code when the request carried no token)."""

    def __init__(self, error: str, description: str, status_code: int, *, challenge: str) -> None:
        super().__init__(description, status_code=status_code, error=error)
        self.challenge = challenge

    def response(self) -> JsonResponse:
        response = super().response()
        response["WWW-Authenticate"] = self.challenge
        return response


class TemporarilyUnavailable(OAuthError):
    error = "temporarily_unavailable"
    description = "The server is busy; retry."
    status_code = 503


class ServerError(OAuthError):
    error = "server_error"
    description = "The server could not handle the request."
    status_code = 500


def error_code_of(content: bytes) -> str:
    """The `error` of an RFC 6749 §5.2 JSON body ("" for anything else)."""
    try:
        body = json.loads(content)
    except (ValueError, TypeError):
        return ""
    return body.get("error", "") if isinstance(body, dict) else ""
