"""The token endpoint's and the bearer-token cache's Prometheus counters (core/metrics.py
exposes them). Labels are bounded: a grant type Doorman does not know, or a request whose
grant type was never read, is `other`; so is an error code outside RFC 6749's and the few
this server adds."""

from __future__ import annotations

from prometheus_client import Counter

from connected_apps.models import GrantType

OTHER = "other"
GRANT_TYPES = frozenset(GrantType.values)
# RFC 6749 §5.2, RFC 8707 §2 (invalid_target), and the server's own answers (a busy or
# rate-limited request, an unexpected failure).
ERROR_CODES = frozenset(
    {
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
        "invalid_target",
        "temporarily_unavailable",
        "server_error",
    }
)

TOKENS_ISSUED = Counter(
    "doorman_oauth_tokens_issued",
    "Token requests answered with a token, by grant type.",
    ["grant_type"],
)
TOKENS_REFUSED = Counter(
    "doorman_oauth_tokens_refused",
    "Token requests refused, by grant type and OAuth error code.",
    ["grant_type", "error"],
)
BEARER_CACHE_LOOKUPS = Counter(
    "doorman_bearer_cache_lookups",
    "Bearer-token resolutions answered from the worker's memory (hit) or the database "
    "(miss), while DOORMAN_TOKEN_CACHE is on.",
    ["result"],
)

# Children bound once: counting on the hot paths is one increment, no label lookup.
_issued = {grant: TOKENS_ISSUED.labels(grant) for grant in (*GRANT_TYPES, OTHER)}
bearer_cache_hit = BEARER_CACHE_LOOKUPS.labels("hit")
bearer_cache_miss = BEARER_CACHE_LOOKUPS.labels("miss")


def token_answer_count(grant_type: str | None, status: int, error: str = "") -> None:
    """Count one answer of the token endpoint: a token (200) or a refusal with `error`."""
    grant = grant_type if grant_type in GRANT_TYPES else OTHER
    if status == 200:
        _issued[grant].inc()
    else:
        TOKENS_REFUSED.labels(grant, error if error in ERROR_CODES else OTHER).inc()
