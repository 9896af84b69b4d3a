"""What the authorization endpoint checks beyond oauthlib: parameter bounds, PKCE and who may
authorize an app (SPEC §2, §5, §6). Whether a live consent already covers a request is read
with the org controls by the token engine (oauth.engine.authorization.consent_facts)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from accounts.catalog import ALL_SCOPES
from connected_apps.controls import OrgGate, org_check
from connected_apps.models import Audience, ConnectedApp

# Upper bounds on what the endpoint accepts, checked before anything touches the database:
# the grant's columns are bounded (nonce 255, code_challenge 128) and a redirect back to the
# client must stay a sane URL.
PARAMETER_LIMITS = {
    "client_id": 100,
    "redirect_uri": 2000,
    "response_type": 64,
    "response_mode": 32,
    "scope": 2000,
    "state": 1024,
    "nonce": 255,
    "code_challenge": 128,
    "code_challenge_method": 16,
    "prompt": 64,
    "max_age": 10,
    "claims": 4096,
}
DEFAULT_PARAMETER_LIMIT = 2048
# RFC 7636 §4.2: an S256 challenge is BASE64URL(SHA256(verifier)) without padding: 43 chars.
S256_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")

PARAMETER_TOO_LONG = "The {name} parameter is too long."
PARAMETER_HAS_NUL = "The {name} parameter contains a NUL character."
PKCE_S256_REQUIRED = "PKCE with code_challenge_method=S256 is required."
PKCE_CHALLENGE_MALFORMED = "code_challenge must be a base64url-encoded SHA-256 digest."
RESPONSE_TYPE_CODE_ONLY = "Only response_type=code is supported."
RESPONSE_MODE_QUERY_ONLY = "Only response_mode=query is supported."
PROMPT_NONE_ALONE = "prompt=none cannot be combined with other prompt values."
MAX_AGE_MALFORMED = "max_age must be a number of seconds."
SIGN_IN_TOO_OLD = "The user signed in longer ago than max_age allows."
SECOND_FACTOR_DUE = "The user must sign in with a second factor."
REQUEST_OBJECTS_UNSUPPORTED = "Request objects (request, request_uri) are not supported."
APP_DISABLED = "This app is disabled."
APP_INTERNAL = "This app is only available to members of the organization that owns it."
USER_DENIED = "The user denied the request."
CONSENT_REQUIRED = "The user has not authorized this app for the requested scopes."
CONSENT_FORM_INVALID = "The consent form was incomplete or malformed."

# Errors an end user may see on the error page, in plain words.
ERROR_EXPLANATIONS = {
    "invalid_client": "This app is not registered with Doorman, or it is no longer available.",
    "invalid_redirect_uri": (
        "The app asked to send you back to an address it has not registered. For your safety, "
        "you have not been sent there."
    ),
    "invalid_request": "The app sent a request Doorman cannot accept.",
}


def parameter_problem(params) -> str | None:
    """Why these request parameters are refused outright (→ 400 page), or None."""
    for name in params:
        if "\x00" in name:
            return PARAMETER_HAS_NUL.format(name="name of a")
        for value in params.getlist(name):
            if "\x00" in value:
                return PARAMETER_HAS_NUL.format(name=name[:40])
            if len(value) > PARAMETER_LIMITS.get(name, DEFAULT_PARAMETER_LIMIT):
                return PARAMETER_TOO_LONG.format(name=name[:40])
    return None


def pkce_problem(challenge: str | None, method: str | None) -> str | None:
    """RFC 7636 with S256 only (SPEC §5: `plain` refused, PKCE required)."""
    if not challenge or method != "S256":
        return PKCE_S256_REQUIRED
    if not S256_CHALLENGE.fullmatch(challenge):
        return PKCE_CHALLENGE_MALFORMED
    return None


def app_refusal(app: ConnectedApp) -> str | None:
    """Why nobody may authorize `app` now (→ access_denied), or None."""
    if not app.enabled:
        return APP_DISABLED
    return None


def user_refusal(
    app: ConnectedApp, user, scopes=None, *, gate: OrgGate | None = None
) -> str | None:
    """Why `user` may not authorize `app` for `scopes` (→ access_denied), or None: SPEC §2
    audience, then §6 org controls (feature switch, allowlist and its approved scopes; `gate`
    when they were already read)."""
    if app.audience == Audience.INTERNAL and user.organization_id != app.root_org_id:
        return APP_INTERNAL
    return org_check(user=user, app=app, scopes=scopes, gate=gate).refusal


def carries_code(uri: str | None) -> bool:
    """Whether an authorization response redirect carries a code (and no error)."""
    if not uri:
        return False
    parts = urlsplit(uri)
    params = {**parse_qs(parts.query), **parse_qs(parts.fragment)}
    return "code" in params and "error" not in params


def catalog_order(scope: str) -> tuple[int, str]:
    """Sort key: scopes in the catalog's order (special scopes first), unknown ones last."""
    return (ALL_SCOPES.index(scope) if scope in ALL_SCOPES else len(ALL_SCOPES), scope)
