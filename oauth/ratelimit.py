"""Request-rate limits: the token endpoint, password sign-ins and the portal's login page.

Fixed-window counters in the Django cache (Redis in production, so every web process shares
them): a key per (scope, identity, window start). Over a limit the caller gets 429 with
Retry-After = seconds to the window's end. `oauth.throttle` uses them for password sign-ins,
beside its lockouts.

A limit counts only what an attacker cannot spend for someone else (SPEC §10):
- a `counted` limit is counted on every attempt before any database work (the token
  endpoint per client IP);
- an uncounted one is only checked up front, and spent later by the requests it is about
  (`rate_limit_spend`): a client's token budget by requests that authenticated as that
  client, the password limits and the portal's login page by failed sign-ins. So 700 wrong
  secrets naming a client leave its budget whole, and a backend signing many users in from
  one address spends nothing.
Client IPs come from `core.client_ip` (DOORMAN_TRUSTED_PROXY_COUNT); an IPv6 client
counts as its /64.

Limits are read from settings at call time (so `override_settings` works);
DOORMAN_RATELIMIT_ENABLED=false turns every limiter off without touching the cache.
"""

from __future__ import annotations

import base64
import hashlib
import math
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse

from core.cache import counter_add, redis_optional
from core.client_ip import client_ip, client_ip_bucket

KEY_PREFIX = "ratelimit"
# WSGI environ key set once a token request has been checked: oauth.wsgi checks it first and
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
    # False: `rate_limit_hit` only checks it (this request would be one more); what spends
    # it is counted afterwards by `rate_limit_spend`.
    counted: bool = True


def parse_rate(rate: str) -> tuple[int, int]:
    """'30/m' → (30, 60); '100/5m' → (100, 300)."""
    count, _, period = rate.strip().partition("/")
    multiple = period[:-1] or "1"
    return int(count), int(multiple) * PERIODS[period[-1]]


def limit_address(request: Any) -> str:
    """The identity per-IP limits and lockouts count `request` under (a Django request or
    a META-like mapping; "" when it has no address)."""
    return client_ip_bucket(client_ip(request))


@dataclass(frozen=True)
class _Window:
    key: str
    start: int
    allowed: int
    period: int


def _window(limit: Limit, now: float) -> _Window:
    allowed, period = parse_rate(limit.rate)
    start = int(now // period) * period
    # Hashed: identities come from the request, so their length and bytes are the sender's.
    digest = hashlib.blake2b(limit.identity.encode("utf-8", "replace"), digest_size=12).hexdigest()
    return _Window(f"{KEY_PREFIX}:{limit.scope}:{digest}:{start}", start, allowed, period)


def _count(increments: list[tuple[str, int]], reads: list[str]) -> tuple[list[int], list]:
    """Increment each (key, ttl) and read each of `reads`; one round trip on Redis (an
    INCR+EXPIRE and GET pipeline). (new counts, values read or None)."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        keys = [key for key, _ in increments] + reads
        full = [backend.make_and_validate_key(key) for key in keys]
        pipe = backend._cache.get_client(full[0], write=True).pipeline(transaction=False)
        for full_key, (_, ttl) in zip(full, increments, strict=False):
            pipe.incr(full_key)
            pipe.expire(full_key, ttl)
        for full_key in full[len(increments) :]:
            pipe.get(full_key)
        replies = pipe.execute()
        counted = 2 * len(increments)
        return [int(value) for value in replies[:counted:2]], replies[counted:]
    counts = []
    for key, ttl in increments:
        backend.add(key, 0, timeout=ttl)
        try:
            counts.append(backend.incr(key))
        except ValueError:  # expired between add() and incr()
            backend.set(key, 1, timeout=ttl)
            counts.append(1)
    found = backend.get_many(reads) if reads else {}
    return counts, [found.get(key) for key in reads]


def _active(limits: list[Limit]) -> list[Limit]:
    if not settings.DOORMAN_RATELIMIT_ENABLED:
        return []
    return [limit for limit in limits if limit.identity and limit.rate]


def rate_limit_hit(limits: list[Limit]) -> int | None:
    """Count this attempt against every counted limit and check it against every limit;
    the seconds to wait when any is exceeded. One cache round trip."""
    limits = _active(limits)
    if not limits:
        return None
    now = time.time()
    pairs = [(limit, _window(limit, now)) for limit in limits]
    counted = [window for limit, window in pairs if limit.counted]
    checked = [window for limit, window in pairs if not limit.counted]
    increments = [(window.key, window.period + 1) for window in counted]
    counted_now = redis_optional(lambda: _count(increments, [w.key for w in checked]), None)
    if counted_now is None:
        return None  # Redis is away: limits wait for it rather than refuse (or fail) anyone
    counts, seen = counted_now
    used = {window.key: count for window, count in zip(counted, counts, strict=True)}
    # A checked limit is over when this attempt would be one too many.
    used |= {window.key: int(value or 0) + 1 for window, value in zip(checked, seen, strict=True)}
    waits = [
        window.start + window.period - now
        for _, window in pairs
        if used[window.key] > window.allowed
    ]
    return max(1, math.ceil(max(waits))) if waits else None


def rate_limit_spend(limits: list[Limit], *, wait: bool = False) -> None:
    """Count one attempt against each limit, without checking it. On Redis the counts are
    only sent (no round trip) unless `wait`: then the next request is sure to see them."""
    limits = _active(limits)
    if not limits:
        return
    now = time.time()
    windows = [_window(limit, now) for limit in limits]
    if wait:
        redis_optional(lambda: _count([(w.key, w.period + 1) for w in windows], []), None)
        return
    for w in windows:
        counter_add(w.key, w.period + 1)


def oauth_rate_limited(retry_after: int) -> JsonResponse:
    """RFC 6749 §5.2-style 429 for the token endpoint and /accounts/login."""
    response = JsonResponse(
        {"error": "temporarily_unavailable", "error_description": RATE_LIMITED_DESCRIPTION},
        status=429,
    )
    response["Retry-After"] = str(retry_after)
    return response


def _client_budget(client_id: str) -> Limit:
    return Limit(
        "token-client", client_id, settings.DOORMAN_RATELIMIT_TOKEN_PER_CLIENT, counted=False
    )


def token_request_limits(request: HttpRequest, params: dict[str, str]) -> list[Limit]:
    """Every request counts per client IP; the client_id it names (Basic or body, not yet
    authenticated) is only checked: requests that authenticate as it spend its budget."""
    client_id = basic_client_id(request.META.get("HTTP_AUTHORIZATION", ""))
    return [
        _client_budget(client_id or params.get("client_id", "")),
        Limit("token-ip", limit_address(request), settings.DOORMAN_RATELIMIT_TOKEN_PER_IP),
    ]


def token_request_rate_limited(request: HttpRequest, params: dict[str, str]) -> JsonResponse | None:
    """Count a token request against its limits, once whichever path sees it first; the 429
    when it is over one."""
    if request.META.get(COUNTED_ENVIRON_KEY):
        return None
    request.META[COUNTED_ENVIRON_KEY] = True
    retry_after = rate_limit_hit(token_request_limits(request, params))
    return None if retry_after is None else oauth_rate_limited(retry_after)


def token_request_authenticated(client_id: str) -> None:
    """A token request authenticated as `client_id`: one from that client's budget. Sent to
    Redis without waiting (a successful request waits on no extra round trip); a burst may
    overshoot the limit by the requests in flight."""
    rate_limit_spend([_client_budget(client_id)])


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
    """POSTs to the portal's login page (allauth) that do not sign in are limited per IP
    (a sign-in redirects; a refusal shows the form again): a busy office behind one address
    spends nothing by signing in. Over the limit, a 429 page."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.login_path: str | None = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST" or not settings.DOORMAN_RATELIMIT_ENABLED:
            return self.get_response(request)
        if self.login_path is None:
            self.login_path = reverse("account_login")
        if request.path != self.login_path:
            return self.get_response(request)
        limit = Limit(
            "login-page-ip",
            limit_address(request),
            settings.DOORMAN_RATELIMIT_LOGIN_PAGE_PER_IP,
            counted=False,
        )
        retry_after = rate_limit_hit([limit])
        if retry_after is not None:
            response = render(request, "429.html", {"retry_after": retry_after}, status=429)
            response["Retry-After"] = str(retry_after)
            return response
        response = self.get_response(request)
        if response.status_code != 302:
            rate_limit_spend([limit], wait=True)
        return response
