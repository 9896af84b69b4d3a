"""Throttling of password sign-ins: the password grant and `POST /accounts/login` (SPEC §5,
§10).

RFC 6749 §4.3.2: a server accepting passwords MUST protect the endpoint against brute force.
SPEC §10: nobody may lock a victim out by guessing wrong passwords for their username from
elsewhere. So only failures count, and every lock is on something the guesser owns:

- per (username, client address): DOORMAN_LOGIN_MAX_FAILURES failures within
  DOORMAN_LOGIN_FAILURE_WINDOW lock that username out *from that address* for
  DOORMAN_LOGIN_LOCKOUT; the user, from their own address, still signs in;
- per client address: DOORMAN_LOGIN_MAX_FAILURES_PER_IP failures lock the address out;
- a per-window rate limit (oauth.ratelimit): DOORMAN_RATELIMIT_PASSWORD_PER_IP failures per
  address.

There is deliberately no per-username ceiling: whatever it refused, it would refuse the
user too, from wherever they were not known, and a stranger could keep them out (SPEC §10).
A guesser spread over many addresses is held by each address's limits only; a second factor
(issue 15) is what makes a guessed password useless.

A refused attempt's password is never checked, so a locked-out guesser learns nothing more.
Addresses are `core.client_ip`'s (an IPv6 client counts as its /64). Counters live in the
Django cache (Redis in production: every web process sees them).
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from core.cache import SIGN_IN_COUNTERS_AWAY, redis_optional
from oauth.ratelimit import RATE_LIMITED_DESCRIPTION, Limit, rate_limit_hit, rate_limit_spend

KEY_PREFIX = "login-throttle"
LOCKED_OUT_DESCRIPTION = "Too many failed sign-in attempts; retry later."


@dataclass(frozen=True)
class Refusal:
    """A throttled attempt: how long the client must wait, and what to tell it."""

    retry_after: int
    description: str = LOCKED_OUT_DESCRIPTION
    status: int = 429  # 503 when the counters cannot be read: try again, not "too many"


# Password sign-ins wait for Redis (a 503 to retry) rather than go unthrottled.
COUNTERS_AWAY = SIGN_IN_COUNTERS_AWAY


def _now() -> float:
    return time.time()


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "replace")).hexdigest()


def _username(username: str) -> str:
    return username.strip().casefold()


def _lockout_keys(username: str, address: str) -> list[tuple[str, int]]:
    """(failure counter key, lockout threshold) pairs an attempt counts against."""
    keys = [
        (
            f"{KEY_PREFIX}:user-ip:{_digest(_username(username), address)}",
            settings.DOORMAN_LOGIN_MAX_FAILURES,
        )
    ]
    if address:
        keys.append(
            (f"{KEY_PREFIX}:ip:{_digest(address)}", settings.DOORMAN_LOGIN_MAX_FAILURES_PER_IP)
        )
    return keys


def _rate_limits(username: str, address: str) -> list[Limit]:
    """The per-window failure limits: checked before the password, spent by failures."""
    return [
        Limit("password-ip", address, settings.DOORMAN_RATELIMIT_PASSWORD_PER_IP, counted=False)
    ]


def login_throttle_check(*, username: str, address: str) -> Refusal | None:
    """A Refusal when this attempt must not have its password checked, else None.
    `address` is the client's, as `oauth.ratelimit.limit_address` gives it."""
    retry_after = rate_limit_hit(_rate_limits(username, address))
    if retry_after is not None:
        return Refusal(retry_after=retry_after, description=RATE_LIMITED_DESCRIPTION)
    now = _now()
    locks = [f"{key}:locked" for key, _ in _lockout_keys(username, address)]
    found = redis_optional(lambda: cache.get_many(locks), None)
    if found is None:
        wait = max(1, math.ceil(settings.DOORMAN_REDIS_RETRY_SECONDS))
        return Refusal(retry_after=wait, description=COUNTERS_AWAY, status=503)
    until = max((value or 0.0 for value in found.values()), default=0.0)
    if until > now:
        return Refusal(retry_after=max(1, math.ceil(until - now)))
    return None


def login_throttle_failure(*, username: str, address: str) -> None:
    """Count a wrong password; lock (username, address) or the address out at its limit.
    (Redis going away between the check and here loses this one count; the next check
    then refuses with a 503.)"""
    rate_limit_spend(_rate_limits(username, address), wait=True)
    redis_optional(lambda: _failure_count(username, address), None)


def _failure_count(username: str, address: str) -> None:
    window = settings.DOORMAN_LOGIN_FAILURE_WINDOW
    lockout = settings.DOORMAN_LOGIN_LOCKOUT
    for key, limit in _lockout_keys(username, address):
        cache.add(key, 0, timeout=window)
        try:
            failures = cache.incr(key)
        except ValueError:  # the window expired between add() and incr()
            cache.set(key, 1, timeout=window)
            failures = 1
        if failures >= limit:
            cache.set(f"{key}:locked", _now() + lockout, timeout=lockout)
            cache.delete(key)


def login_throttle_success(*, username: str, address: str) -> None:
    """A correct password clears this (username, address)'s failures (never the address's:
    one valid account must not reset a guesser's count)."""
    key = _lockout_keys(username, address)[0][0]
    redis_optional(lambda: cache.delete(key), None)
