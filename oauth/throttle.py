"""Throttling of password sign-ins: the password grant and `POST /accounts/login` (SPEC §5).

RFC 6749 §4.3.2: a server accepting passwords MUST protect the endpoint against brute force.
Failures are counted per username and per client IP in the Django cache (Redis in production,
so every web process sees the same counters). Reaching a limit locks that username or IP out
for DOORMAN_LOGIN_LOCKOUT: further attempts are refused before the password is even
checked, so a locked-out attacker learns nothing more.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

KEY_PREFIX = "login-throttle"


@dataclass(frozen=True)
class Refusal:
    """A throttled attempt: how long the client must wait."""

    retry_after: int


def _now() -> float:
    return time.time()


def _keys(username: str, ip: str | None) -> list[tuple[str, int]]:
    """(cache key, limit) pairs for this attempt; usernames are hashed and case-folded."""
    digest = hashlib.sha256(username.strip().casefold().encode("utf-8")).hexdigest()
    keys = [(f"{KEY_PREFIX}:user:{digest}", settings.DOORMAN_LOGIN_MAX_FAILURES)]
    if ip:
        keys.append((f"{KEY_PREFIX}:ip:{ip}", settings.DOORMAN_LOGIN_MAX_FAILURES_PER_IP))
    return keys


def login_throttle_check(*, username: str, ip: str | None) -> Refusal | None:
    """A Refusal when this username or IP is locked out, else None."""
    now = _now()
    until = max((cache.get(f"{key}:locked") or 0.0 for key, _ in _keys(username, ip)), default=0.0)
    if until > now:
        return Refusal(retry_after=max(1, math.ceil(until - now)))
    return None


def login_throttle_failure(*, username: str, ip: str | None) -> None:
    """Count a failed attempt; lock the username or IP out once it reaches its limit."""
    window = settings.DOORMAN_LOGIN_FAILURE_WINDOW
    lockout = settings.DOORMAN_LOGIN_LOCKOUT
    for key, limit in _keys(username, ip):
        cache.add(key, 0, timeout=window)
        try:
            failures = cache.incr(key)
        except ValueError:  # the window expired between add() and incr()
            cache.set(key, 1, timeout=window)
            failures = 1
        if failures >= limit:
            cache.set(f"{key}:locked", _now() + lockout, timeout=lockout)
            cache.delete(key)


def login_throttle_success(*, username: str) -> None:
    """A correct password clears the username's failure count (never the IP's)."""
    cache.delete(_keys(username, None)[0][0])
