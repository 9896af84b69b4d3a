"""The authorization endpoint (RFC 6749 §4.1): the view, and the checks it makes with their
message constants (which tests import from here)."""

from oauth.views.authorize.checks import (
    APP_DISABLED,
    APP_INTERNAL,
    CONSENT_FORM_INVALID,
    CONSENT_REQUIRED,
    PARAMETER_HAS_NUL,
    PARAMETER_LIMITS,
    PARAMETER_TOO_LONG,
    PKCE_CHALLENGE_MALFORMED,
    PKCE_S256_REQUIRED,
    PROMPT_NONE_ALONE,
    RESPONSE_MODE_QUERY_ONLY,
    RESPONSE_TYPE_CODE_ONLY,
    USER_DENIED,
)
from oauth.views.authorize.view import DoormanAuthorizationView

__all__ = [
    "APP_DISABLED",
    "APP_INTERNAL",
    "CONSENT_FORM_INVALID",
    "CONSENT_REQUIRED",
    "PARAMETER_HAS_NUL",
    "PARAMETER_LIMITS",
    "PARAMETER_TOO_LONG",
    "PKCE_CHALLENGE_MALFORMED",
    "PKCE_S256_REQUIRED",
    "PROMPT_NONE_ALONE",
    "RESPONSE_MODE_QUERY_ONLY",
    "RESPONSE_TYPE_CODE_ONLY",
    "USER_DENIED",
    "DoormanAuthorizationView",
]
