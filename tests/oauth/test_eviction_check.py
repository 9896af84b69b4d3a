"""The token cache is trusted only on a Redis that cannot evict revocation marks
(oauth.principal_cache.EvictionCheck): each test starts its own redis-server on a private
port, never touching the shared one's configuration."""

from __future__ import annotations

import logging
import shutil
import time

import pytest
from django.test import override_settings

from oauth import principal_cache
from oauth.principal_cache import (
    EVICTION_CHECK_FAILED,
    EVICTION_POLICY_UNKNOWN,
    EVICTION_POLICY_UNSAFE,
    EvictionCheck,
)
from tests.redis_kit import PrivateRedis, free_port

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="no redis-server")


@pytest.fixture
def private_redis():
    """`start(*options)`: a redis-server of this test's own, on a free port; its URL."""
    servers: list[PrivateRedis] = []

    def start(*options: str) -> str:
        server = PrivateRedis(options=options)
        server.start()
        servers.append(server)
        return server.url

    yield start
    for server in servers:
        server.kill()


def on(url: str):
    backend = {"BACKEND": "core.cache.SharedClientRedisCache", "LOCATION": url}
    return override_settings(CACHES={"default": backend}, DOORMAN_TOKEN_CACHE=True)


def test_a_redis_that_may_evict_marks_keeps_the_token_cache_off(private_redis, caplog):
    url = private_redis("--maxmemory-policy", "allkeys-lru")
    check = EvictionCheck()
    with on(url), caplog.at_level(logging.ERROR, logger="oauth.principal_cache"):
        assert check.safe() is False
        assert check.safe() is False  # asked once per process: one log line
    assert [record.getMessage() for record in caplog.records] == [
        EVICTION_POLICY_UNSAFE % "allkeys-lru"
    ]
    assert "noeviction" in caplog.records[0].getMessage()


@pytest.mark.parametrize("policy", ["volatile-lru", "volatile-ttl", "allkeys-random"])
def test_every_evicting_policy_is_unsafe(private_redis, policy):
    with on(private_redis("--maxmemory-policy", policy)):
        assert EvictionCheck().safe() is False


def test_noeviction_turns_the_token_cache_on(private_redis, monkeypatch):
    with on(private_redis("--maxmemory-policy", "noeviction")):
        check = EvictionCheck()
        monkeypatch.setattr(principal_cache, "_eviction_check", check)
        assert principal_cache.enabled() is True
        with override_settings(DOORMAN_TOKEN_CACHE=False):
            assert principal_cache.enabled() is False


def test_a_redis_refusing_config_get_counts_as_unsafe(private_redis, caplog):
    url = private_redis("--maxmemory-policy", "noeviction", "--rename-command", "CONFIG", "")
    with on(url), caplog.at_level(logging.ERROR, logger="oauth.principal_cache"):
        assert EvictionCheck().safe() is False
    message = caplog.records[0].getMessage()
    assert message.startswith(EVICTION_POLICY_UNKNOWN.split("(")[0])
    assert "DOORMAN_TOKEN_CACHE_EVICTION_CHECK=false" in message
    with on(url), override_settings(DOORMAN_TOKEN_CACHE_EVICTION_CHECK=False):
        assert EvictionCheck().safe() is True  # the operator vouches for the policy


def test_a_redis_that_is_down_never_breaks_start_up_and_is_asked_again(caplog, monkeypatch):
    check = EvictionCheck()
    with on(f"redis://127.0.0.1:{free_port()}/0"), caplog.at_level(logging.WARNING):
        started = time.monotonic()
        assert check.safe() is False
        assert time.monotonic() - started < 2
        assert check.safe() is False  # not asked again before EVICTION_RECHECK_SECONDS
        assert len(caplog.records) == 1
        assert caplog.records[0].getMessage().startswith(EVICTION_CHECK_FAILED.split("(")[0])
        monkeypatch.setattr(principal_cache, "redis_config_get", lambda *a, **k: "noeviction")
        assert check.safe() is False
        check._retry_at -= principal_cache.EVICTION_RECHECK_SECONDS  # the time has come
        assert check.safe() is True  # Redis is back: the memo is trusted from now on


def test_a_cache_that_is_not_redis_is_safe():
    locmem = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    with override_settings(CACHES=locmem):
        assert EvictionCheck().safe() is True
