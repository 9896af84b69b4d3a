"""Request-rate limits: the token endpoint, password sign-ins and the portal's login page.

Fixed-window counters in the Django cache (Redis in production, so every web process shares
them): a key per (scope, identity, window start), incremented on every attempt, good or bad,
before any database work. Over a limit the caller gets 429 with Retry-After = seconds to the
window's end. This sits beside `oauth.throttle`, which locks out after failed passwords.

Identities are cheap and unauthenticated on purpose: the client_id as presented (Basic or
body), the username as typed, and REMOTE_ADDR, which a trusted reverse proxy must set to the
real client address (or DOORMAN_TRUSTED_PROXY_COUNT picks it from X-Forwarded-For).

Limits are read from settings at call time (so `override_settings` works);
DOORMAN_RATELIMIT_ENABLED=false turns every limiter off without touching the cache.
"""

from __future__ import annotations

import base64
import hashlib
import math
import time
from dataclasses import dataclass
from urllib.parse import unquote

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse

KEY_PREFIX = "ratelimit"
# WSGI environ key set once a token request has been counted: oauth.wsgi counts it first and
# may then hand it to the token view, which must not count it again.
COUNTED_ENVIRON_KEY = "doorman.rate_limit_counted"
PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
RATE_LIMITED_DESCRIPTION = "Too many requests; retry after the time in Retry-After."


@dataclass(frozen=True)
class Limit:
    """At most `rate` ("N/s|m|h|d") attempts per window for one identity in one scope."""

    scope: str
    identity: str
    rate: str


def parse_rate(rate: str) -> tuple[int, int]:
    """'30/m' → (30, 60); '100/5m' → (100, 300)."""
    count, _, period = rate.strip().partition("/")
    multiple = period[:-1] or "1"
    return int(count), int(multiple) * PERIODS[period[-1]]


def client_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR, or the address the Nth trusted proxy saw (X-Forwarded-For, from the right)."""
    proxies = settings.DOORMAN_TRUSTED_PROXY_COUNT
    if proxies:
        forwarded = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [hop for hop in forwarded if hop]
        if len(forwarded) >= proxies:
            return forwarded[-proxies][:64]
    return request.META.get("REMOTE_ADDR", "")[:64]


def _key(limit: Limit, window_start: int) -> str:
    # Hashed: identities come from the request, so their length and bytes are the sender's.
    digest = hashlib.blake2b(limit.identity.encode("utf-8", "replace"), digest_size=12).hexdigest()
    return f"{KEY_PREFIX}:{limit.scope}:{digest}:{window_start}"


def _count(keys: list[tuple[str, int]]) -> list[int]:
    """Increment each (key, ttl) atomically; one round trip on Redis (INCR+EXPIRE pipeline)."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        full_keys = [backend.make_and_validate_key(key) for key, _ in keys]
        pipe = backend._cache.get_client(full_keys[0], write=True).pipeline(transaction=False)
        for full_key, (_, ttl) in zip(full_keys, keys, strict=True):
            pipe.incr(full_key)
            pipe.expire(full_key, ttl)
        return [int(value) for value in pipe.execute()[::2]]
    counts = []
    for key, ttl in keys:
        backend.add(key, 0, timeout=ttl)
        try:
            counts.append(backend.incr(key))
        except ValueError:  # expired between add() and incr()
            backend.set(key, 1, timeout=ttl)
            counts.append(1)
    return counts


def rate_limit_hit(limits: list[Limit]) -> int | None:
    """Count one attempt against every limit; the seconds to wait when any is exceeded."""
    if not settings.DOORMAN_RATELIMIT_ENABLED:
        return None
    limits = [limit for limit in limits if limit.identity and limit.rate]
    if not limits:
        return None
    now = time.time()
    parsed = [parse_rate(limit.rate) for limit in limits]
    windows = [int(now // period) * period for _, period in parsed]
    keys = [
        (_key(limit, start), period + 1)
        for limit, start, (_, period) in zip(limits, windows, parsed, strict=True)
    ]
    counts = _count(keys)
    waits = [
        start + period - now
        for count, start, (allowed, period) in zip(counts, windows, parsed, strict=True)
        if count > allowed
    ]
    return max(1, math.ceil(max(waits))) if waits else None


def oauth_rate_limited(retry_after: int) -> JsonResponse:
    """RFC 6749 §5.2-style 429 for the token endpoint and /accounts/login."""
    response = JsonResponse(
        {"error": "temporarily_unavailable", "error_description": RATE_LIMITED_DESCRIPTION},
        status=429,
    )
    response["Retry-After"] = str(retry_after)
    return response


def token_request_limits(request: HttpRequest, params: dict[str, str]) -> list[Limit]:
    """Per client_id (Basic or body, unauthenticated), per IP; a password grant also counts
    as a sign-in per IP and per username."""
    ip = client_ip(request)
    client_id = basic_client_id(request.META.get("HTTP_AUTHORIZATION", ""))
    limits = [
        Limit(
            "token-client",
            client_id or params.get("client_id", ""),
            settings.DOORMAN_RATELIMIT_TOKEN_PER_CLIENT,
        ),
        Limit("token-ip", ip, settings.DOORMAN_RATELIMIT_TOKEN_PER_IP),
    ]
    if params.get("grant_type") == "password":
        limits += sign_in_limits(ip=ip, username=params.get("username", ""))
    return limits


def token_request_rate_limited(request: HttpRequest, params: dict[str, str]) -> JsonResponse | None:
    """Count a token request against its limits, once whichever path sees it first; the 429
    when it is over one."""
    if request.META.get(COUNTED_ENVIRON_KEY):
        return None
    request.META[COUNTED_ENVIRON_KEY] = True
    retry_after = rate_limit_hit(token_request_limits(request, params))
    return None if retry_after is None else oauth_rate_limited(retry_after)


def sign_in_limits(*, ip: str, username: str) -> list[Limit]:
    """Password sign-ins (password grant, POST /accounts/login) share these counters."""
    return [
        Limit("password-ip", ip, settings.DOORMAN_RATELIMIT_PASSWORD_PER_IP),
        Limit(
            "password-user",
            username.strip().casefold(),
            settings.DOORMAN_RATELIMIT_PASSWORD_PER_USERNAME,
        ),
    ]


def basic_client_id(header: str) -> str:
    """The client_id of `Authorization: Basic …`, unverified and undecoded beyond Base64."""
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "basic" or not credentials:
        return ""
    try:
        decoded = base64.b64decode(credentials.strip()[:1024], validate=True).decode("utf-8")
    except ValueError:  # binascii.Error, UnicodeDecodeError, non-ASCII text
        return ""
    return unquote(decoded.partition(":")[0])  # RFC 6749 §2.3.1: form-urlencoded


class LoginPageRateLimitMiddleware:
    """POSTs to the portal's login page (allauth) are limited per IP; over it, a 429 page."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.login_path: str | None = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and settings.DOORMAN_RATELIMIT_ENABLED:
            if self.login_path is None:
                self.login_path = reverse("account_login")
            if request.path == self.login_path:
                limit = Limit(
                    "login-page-ip",
                    client_ip(request),
                    settings.DOORMAN_RATELIMIT_LOGIN_PAGE_PER_IP,
                )
                retry_after = rate_limit_hit([limit])
                if retry_after is not None:
                    response = render(request, "429.html", {"retry_after": retry_after}, status=429)
                    response["Retry-After"] = str(retry_after)
                    return response
        return self.get_response(request)
