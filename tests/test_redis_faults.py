"""The token paths' Redis under faults (issue 13): a Redis of the test's own on a private
port is killed, restarted and frozen (SIGSTOP). Every failure is a quick HotPathUnavailable
(callers fall back to the database), a frozen Redis holds nobody beyond the timeout, an
unreachable one is tried once per interval, and the paths recover by themselves when it is
back: no connection is taken from a pool that would count it for ever."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time

import pytest
import redis
import requests
from django.test import override_settings

from core.cache import HotPathRedis, HotPathUnavailable
from tests.redis_kit import PrivateRedis

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="no redis-server")
TIMEOUT = 0.3
RETRY = 0.2


@pytest.fixture
def private_redis():
    server = PrivateRedis()
    server.start()
    yield server
    if server.process.poll() is None:
        server.signal(signal.SIGCONT)
        server.kill()


@pytest.fixture
def persistent_redis(tmp_path):
    """A private Redis that keeps its data across a restart (what a crashed production Redis
    with persistence, or one cut off by the network, looks like to the workers)."""
    server = PrivateRedis(directory=str(tmp_path))
    server.start()
    yield server
    if server.process.poll() is None:
        server.kill()


def on(url: str):
    backend = {"BACKEND": "core.cache.SharedClientRedisCache", "LOCATION": url}
    return override_settings(
        CACHES={"default": backend},
        DOORMAN_REDIS_TIMEOUT=TIMEOUT,
        DOORMAN_REDIS_RETRY_SECONDS=RETRY,
    )


def ping(hot_path: HotPathRedis) -> bool:
    try:
        return hot_path.execute(("PING",)) == [b"PONG"]
    except HotPathUnavailable:
        return False


def test_a_redis_blip_is_survived_and_recovered_from_unaided(private_redis):
    hot_path = HotPathRedis()
    with on(private_redis.url):
        assert ping(hot_path)
        private_redis.kill()
        started = time.monotonic()
        failures = [ping(hot_path) for _ in range(300)]  # more than a pool's 100 slots... x3
        assert not any(failures)
        assert time.monotonic() - started < 5  # one try per interval, the rest at once
        private_redis.start()  # the same port
        time.sleep(RETRY + 0.1)
        assert ping(hot_path)
        hot_path.send(("SET", "after", "1"))  # the reply-less connection recovers too
        time.sleep(RETRY + 0.1)
        hot_path.send(("SET", "after", "1"))
        client = redis.Redis(port=private_redis.port, socket_timeout=1)
        for _ in range(50):
            if client.get("after") == b"1":
                break
            time.sleep(0.02)
        assert client.get("after") == b"1"
        client.close()


def test_a_frozen_redis_holds_a_request_no_longer_than_the_timeout(private_redis):
    hot_path = HotPathRedis()
    with on(private_redis.url):
        assert ping(hot_path)
        private_redis.signal(signal.SIGSTOP)
        try:
            started = time.monotonic()
            assert not ping(hot_path)
            assert time.monotonic() - started < TIMEOUT + 0.5
            started = time.monotonic()
            assert not ping(hot_path)  # the breaker is open: no second wait
            assert time.monotonic() - started < 0.05
        finally:
            private_redis.signal(signal.SIGCONT)
        time.sleep(RETRY + 0.1)
        assert ping(hot_path)


def test_the_django_cache_gives_up_on_a_frozen_redis_within_its_timeout(
    private_redis, hot_path_reset
):
    """Code calling the cache itself (allauth) gets a miss after one timeout, then at once
    while the breaker is open; inside redis_optional the caller sees the error."""
    from django.conf import settings
    from django.core.cache import caches

    from core.cache import redis_optional

    options = settings.CACHES["default"].get("OPTIONS")
    if options is None:
        pytest.skip("the suite runs without REDIS_URL: the production options are not set")
    backend = {
        "BACKEND": "core.cache.SharedClientRedisCache",
        "LOCATION": private_redis.url,
        "OPTIONS": options,
    }
    with override_settings(CACHES={"default": backend}):
        caches["default"].set("k", 1)
        private_redis.signal(signal.SIGSTOP)
        try:
            started = time.monotonic()
            assert caches["default"].get("k", "missed") == "missed"
            assert caches["default"].add("lock", 1) is False  # nothing taken
            assert time.monotonic() - started < options["socket_timeout"] + 0.5
            started = time.monotonic()
            assert caches["default"].get("k") is None  # the breaker is open: no wait
            assert time.monotonic() - started < 0.05
            hot_path_reset._retry_at = 0.0
            assert redis_optional(lambda: caches["default"].get("k"), "fallback") == "fallback"
        finally:
            private_redis.signal(signal.SIGCONT)


@pytest.fixture
def hot_path_reset():
    """The process's hot path as it was: the tests below open its breaker."""
    from core import cache as cache_module

    def reset() -> None:  # its connections name the Redis they were made for
        cache_module._hot_path._retry_at = 0.0
        cache_module._hot_path._failed = False
        for name in ("connection", "quiet"):
            setattr(cache_module._hot_path._local, name, None)

    reset()
    yield cache_module._hot_path
    reset()


@pytest.mark.django_db(transaction=True)
def test_a_revocation_during_an_outage_is_not_lost(persistent_redis, hot_path_reset, member):
    """Logout while Redis is down: answered, not a 500; and once Redis is back with its data,
    the token another worker remembered is refused, not trusted (its row is gone: no worker
    asks Redis whether to trust what it remembers)."""
    private_redis = persistent_redis
    from django.core.cache import caches
    from django.test import Client

    from oauth import principal_cache
    from oauth.principal_cache import entries_clear
    from tests.factories import DEFAULT_PASSWORD

    backend = {
        "BACKEND": "core.cache.SharedClientRedisCache",
        "LOCATION": private_redis.url,
        "OPTIONS": {"socket_timeout": TIMEOUT, "socket_connect_timeout": TIMEOUT},
    }
    with (
        override_settings(
            CACHES={"default": backend},
            DOORMAN_REDIS_TIMEOUT=TIMEOUT,
            DOORMAN_REDIS_RETRY_SECONDS=RETRY,
            DOORMAN_TOKEN_CACHE=True,
            DOORMAN_RATELIMIT_ENABLED=False,
        ),
    ):
        entries_clear()
        caches["default"].clear()
        assert principal_cache.enabled()  # workers remember, whatever Redis does
        client = Client()
        login = {"username": member.username, "password": DEFAULT_PASSWORD}
        token = client.post("/accounts/login", login, content_type="application/json").json()
        auth = {"HTTP_AUTHORIZATION": f"Bearer {token['access_token']}"}
        assert client.get("/accounts/api/profile", **auth).status_code == 200
        assert client.get("/accounts/api/profile", **auth).status_code == 200  # remembered
        assert principal_cache.principals._entries

        # What another worker remembers of the token: this one forgets it as it revokes.
        other_worker = dict(principal_cache.principals._entries)
        private_redis.kill()
        assert client.post("/accounts/logout", **auth).status_code == 204
        principal_cache.principals._entries.update(other_worker)
        private_redis.start()
        time.sleep(RETRY + 0.1)
        assert client.get("/accounts/api/profile", **auth).status_code == 401
        assert client.get("/accounts/api/profile", **auth).status_code == 401
        entries_clear()


@pytest.mark.django_db(transaction=True)
def test_tokens_are_issued_and_validated_from_postgresql_while_redis_is_down(
    private_redis, hot_path_reset, member, cc_app
):
    """Redis down: client_credentials tokens are issued and bearer calls answered (limits
    and counts wait for Redis), password sign-ins are a 503 to retry (their brute-force
    counters cannot be kept), never a 500; all is back to normal once Redis is."""
    from django.core.cache import caches
    from django.test import Client
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.retry import Retry

    from oauth.principal_cache import entries_clear
    from tests.factories import DEFAULT_PASSWORD

    # As config.settings makes them: a connection Redis closed is made again once.
    retry = Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,))
    options = {"socket_timeout": TIMEOUT, "socket_connect_timeout": TIMEOUT, "retry": retry}
    backend = {
        "BACKEND": "core.cache.SharedClientRedisCache",
        "LOCATION": private_redis.url,
        "OPTIONS": options,
    }
    cc = {"grant_type": "client_credentials"}
    basic = (cc_app.app.client_id, cc_app.client_secret)
    login = {"username": member.username, "password": DEFAULT_PASSWORD}
    with override_settings(
        CACHES={"default": backend},
        DOORMAN_REDIS_TIMEOUT=TIMEOUT,
        DOORMAN_REDIS_RETRY_SECONDS=RETRY,
        DOORMAN_TOKEN_CACHE=True,
    ):
        entries_clear()
        caches["default"].clear()
        client = Client()

        def token() -> object:
            import base64

            header = base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode()
            return client.post(
                "/accounts/api/v2/oauth2/token", cc, HTTP_AUTHORIZATION=f"Basic {header}"
            )

        assert token().status_code == 200
        private_redis.kill()
        for _ in range(5):
            issued = token()
            assert issued.status_code == 200, issued.content
            bearer = {"HTTP_AUTHORIZATION": f"Bearer {issued.json()['access_token']}"}
            organization = f"/accounts/api/organizations/{member.organization_id}"
            assert client.get(organization, **bearer).status_code == 200
        refused = client.post("/accounts/login", login, content_type="application/json")
        assert refused.status_code == 503, refused.content
        assert refused["Retry-After"]
        assert refused.json()["error"] == "temporarily_unavailable"

        private_redis.start()
        time.sleep(RETRY + 0.1)
        assert token().status_code == 200
        signed_in = client.post("/accounts/login", login, content_type="application/json")
        assert signed_in.status_code == 200, signed_in.content
        entries_clear()


@pytest.mark.django_db
def test_the_portal_signs_people_in_while_redis_is_away(
    private_redis, hot_path_reset, member, admin, cc_app
):
    """allauth's rate limits call the cache themselves: Redis away is a miss for them, so
    the portal's pages work (were 500s); signing in waits for Redis, as every password
    sign-in does (its failure counters cannot be kept), and says so; back to normal after."""
    from django.test import Client

    from tests.factories import DEFAULT_PASSWORD

    with on(private_redis.url):
        private_redis.kill()
        client = Client()
        credentials = {"login": member.username, "password": DEFAULT_PASSWORD}
        assert client.get("/auth/login/").status_code == 200
        signed_in_before = Client()
        signed_in_before.force_login(admin)
        apps = "/access-management/connected-apps"
        for page in ("/", "/accounts/api/profile", f"{apps}/", f"{apps}/{cc_app.app.client_id}/"):
            assert signed_in_before.get(page).status_code in (200, 302), page
        started = time.monotonic()
        waiting = client.post("/auth/login/", credentials)
        assert time.monotonic() - started < TIMEOUT + 0.5
        assert waiting.status_code == 200
        assert b"Sign-in is briefly unavailable" in waiting.content
        assert "_auth_user_id" not in client.session
        private_redis.start()
        time.sleep(RETRY + 0.1)
        signed_in = client.post("/auth/login/", credentials)
        assert signed_in.status_code == 302, signed_in.content[:300]
        assert client.get("/my-apps/").status_code == 200  # a member's home (/ sends them)


@pytest.mark.django_db
def test_a_change_made_while_redis_is_away_is_seen_at_once(
    persistent_redis, hot_path_reset, member, code_app
):
    """A change while Redis is away (here: the user deactivated behind the services' backs)
    needs no Redis to reach the workers: the next request refuses the token this worker
    remembers, Redis still away, and again once it is back with its old data."""
    from django.test import Client

    from accounts.models import User
    from oauth.principals import access_token_resolve
    from tests.oauth.helpers import bearer, mint_access_token

    with on(persistent_redis.url):
        raw = mint_access_token(user=member, app=code_app.app, scope="profile")
        assert access_token_resolve(raw) is not None
        assert access_token_resolve(raw) is not None  # remembered
        persistent_redis.kill()
        User.objects.filter(pk=member.pk).update(is_active=False)
        assert access_token_resolve(raw) is None
        assert Client().get("/accounts/api/profile", **bearer(raw)).status_code == 401
        persistent_redis.start()  # with its data
        time.sleep(RETRY + 0.1)
        assert access_token_resolve(raw) is None


@contextlib.contextmanager
def _another_worker_remembering_a_token(redis_url: str, member, *, retry: float):
    """This process as one worker (the Django test client) and bin/serve as another, both on
    the Redis at `redis_url`, with the token cache on; `member` signs in here and the other
    worker resolves the token twice, so it remembers it. Yields (test client, the bearer
    header, the other worker's profile URL)."""
    from django.core.cache import caches
    from django.test import Client

    from oauth import principal_cache
    from oauth.principal_cache import entries_clear
    from tests.factories import DEFAULT_PASSWORD
    from tests.serve_kit import Served, own_database_url

    prefix = os.environ.get("DOORMAN_CACHE_PREFIX", "doorman")
    backend = {
        "BACKEND": "core.cache.SharedClientRedisCache",
        "LOCATION": redis_url,
        "KEY_PREFIX": prefix,
        "OPTIONS": {"socket_timeout": TIMEOUT, "socket_connect_timeout": TIMEOUT},
    }
    other_worker = Served(
        DATABASE_URL=own_database_url(),
        REDIS_URL=redis_url,
        DOORMAN_CACHE_PREFIX=prefix,
        DOORMAN_WORKERS="1",
        DOORMAN_RATELIMIT_ENABLED="false",
    )
    try:
        with override_settings(
            CACHES={"default": backend},
            DOORMAN_REDIS_TIMEOUT=TIMEOUT,
            DOORMAN_REDIS_RETRY_SECONDS=retry,
            DOORMAN_TOKEN_CACHE=True,
            DOORMAN_RATELIMIT_ENABLED=False,
        ):
            entries_clear()
            assert principal_cache.enabled()
            client = Client()
            login = {"username": member.username, "password": DEFAULT_PASSWORD}
            token = client.post("/accounts/login", login, content_type="application/json")
            bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
            profile = other_worker.base + "/accounts/api/profile"
            for _ in range(2):  # the other worker resolves it, then remembers it
                assert requests.get(profile, headers=bearer, timeout=5).status_code == 200
            yield client, bearer, profile
            caches["default"].clear()
            entries_clear()
    finally:
        other_worker.stop()


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="a second worker (bin/serve) shares the test's PostgreSQL database",
)
def test_a_revocation_reaches_other_workers_while_this_one_distrusts_redis(
    private_redis, hot_path_reset, member
):
    """A Redis blip seen by one worker only (a slow reply) opens that worker's breaker while
    Redis serves every other worker. A token revoked by that worker in the interval must be
    refused at once by a worker that remembers it (bin/serve here): it asks the database,
    not Redis, whether the token's row is still there."""
    from django.core.cache import caches

    with _another_worker_remembering_a_token(
        private_redis.url,
        member,
        retry=10,  # this worker's breaker outlasts it
    ) as (client, bearer, profile):
        private_redis.signal(signal.SIGSTOP)  # a blip: this worker's cache read times out
        try:
            assert caches["default"].get("anything", "missed") == "missed"
            assert (
                client.get(
                    "/accounts/api/profile", HTTP_AUTHORIZATION=bearer["Authorization"]
                ).status_code
                == 200
            )
        finally:
            private_redis.signal(signal.SIGCONT)
        assert hot_path_reset.breaker_open()  # this worker leaves Redis alone a while

        logout = client.post("/accounts/logout", HTTP_AUTHORIZATION=bearer["Authorization"])
        assert logout.status_code == 204
        assert requests.get(profile, headers=bearer, timeout=5).status_code == 401


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="a second worker (bin/serve) shares the test's PostgreSQL database",
)
def test_a_revocation_reaches_other_workers_when_redis_is_full(hot_path_reset, member):
    """A full Redis (maxmemory-policy noeviction refuses every new key while it still
    answers reads) has no say in revocation: a worker that remembers the revoked token does
    not go on trusting it."""
    full_redis = PrivateRedis(options=("--maxmemory", "4mb", "--maxmemory-policy", "noeviction"))
    full_redis.start()
    try:
        with _another_worker_remembering_a_token(full_redis.url, member, retry=RETRY) as (
            client,
            bearer,
            profile,
        ):
            raw = redis.Redis(port=full_redis.port, socket_timeout=1)
            for size in (10_000, 1_000, 100, 1):  # until not a byte more fits
                with contextlib.suppress(redis.exceptions.ResponseError):  # OOM: full
                    for number in range(100_000):
                        raw.set(f"ballast:{size}:{number}", b"x" * size)
            with pytest.raises(redis.exceptions.ResponseError):
                raw.set("one-more", 1)

            logout = client.post("/accounts/logout", HTTP_AUTHORIZATION=bearer["Authorization"])
            assert logout.status_code == 204
            assert requests.get(profile, headers=bearer, timeout=5).status_code == 401
            raw.close()
    finally:
        full_redis.kill()


@pytest.mark.django_db(transaction=True)
def test_an_app_disabled_while_redis_is_away_gets_no_more_tokens(
    private_redis, hot_path_reset, admin, cc_app
):
    """client_credentials reads no cache: what it remembers of an app holds while the
    database's generation does. Disabling the app advances it in its own transaction, so
    the next token request is refused, Redis away or not."""
    import base64

    from django.test import Client

    from accounts.access import Access
    from connected_apps.services import connected_app_update
    from oauth import principal_cache
    from oauth.principal_cache import entries_clear

    basic = base64.b64encode(f"{cc_app.app.client_id}:{cc_app.client_secret}".encode()).decode()
    with on(private_redis.url), override_settings(DOORMAN_TOKEN_CACHE=True):
        entries_clear()
        assert principal_cache.enabled()

        def token() -> int:
            return (
                Client()
                .post(
                    "/accounts/api/v2/oauth2/token",
                    {"grant_type": "client_credentials"},
                    HTTP_AUTHORIZATION=f"Basic {basic}",
                )
                .status_code
            )

        assert token() == 200
        assert token() == 200  # the app's facts are remembered
        private_redis.kill()
        connected_app_update(access=Access(user=admin), app=cc_app.app, changes={"enabled": False})
        assert token() != 200
        entries_clear()


@pytest.mark.django_db
def test_changes_wait_for_no_frozen_redis(private_redis, hot_path_reset, admin, code_app):
    """Invalidation is the database's own (a trigger in the writing transaction): a
    frozen Redis holds none of the writes that invalidate, a cascade deleting many rows one
    by one included, and the next bearer request sees them."""
    from accounts.access import Access
    from connected_apps.services import connected_app_delete
    from oauth.principals import access_token_resolve
    from tests.oauth.helpers import mint_access_token

    backend = {
        "BACKEND": "core.cache.SharedClientRedisCache",
        "LOCATION": private_redis.url,
        "OPTIONS": {"socket_timeout": TIMEOUT, "socket_connect_timeout": TIMEOUT},
    }
    with override_settings(
        CACHES={"default": backend},
        DOORMAN_REDIS_TIMEOUT=TIMEOUT,
        DOORMAN_REDIS_RETRY_SECONDS=5,
    ):
        raws = [mint_access_token(user=admin, app=code_app.app, scope="profile") for _ in range(5)]
        assert access_token_resolve(raws[0]) is not None
        assert access_token_resolve(raws[0]) is not None  # remembered
        private_redis.signal(signal.SIGSTOP)
        try:
            started = time.monotonic()
            connected_app_delete(access=Access(user=admin), app=code_app.app)
            assert access_token_resolve(raws[0]) is None
            assert time.monotonic() - started < TIMEOUT
        finally:
            private_redis.signal(signal.SIGCONT)


@pytest.mark.django_db
def test_a_usage_rollup_that_redis_fails_midway_counts_no_token_twice(
    persistent_redis, hot_path_reset, cc_app, monkeypatch
):
    """The rollup reads a counter, takes what it read off it, then adds it to the day's row.
    Redis failing between the read and the DECR must stop the run, not pass for a DECR
    done: the count would be added again by the next run."""
    from django.db.models import Sum

    from connected_apps import usage
    from connected_apps.models import AppUsageDay

    app = cc_app.app
    read = usage.pending_counts

    def total() -> int:
        rows = AppUsageDay.objects.filter(app=app).aggregate(n=Sum("tokens_issued"))["n"] or 0
        today = [usage.timezone.now().date()]
        return rows + sum(read([app.pk], today).values())

    with on(persistent_redis.url):
        for _ in range(3):
            usage.usage_record_token_issued(app=app)
        deadline = time.monotonic() + 5
        while total() != 3 and time.monotonic() < deadline:
            time.sleep(0.02)  # the counts are sent without waiting for replies
        assert total() == 3

        def read_then_redis_goes(*args, **kwargs):
            found = read(*args, **kwargs)
            persistent_redis.kill()
            return found

        monkeypatch.setattr(usage, "pending_counts", read_then_redis_goes)
        with contextlib.suppress(Exception):  # the run may fail: Redis went away
            usage.usage_rollup()
        monkeypatch.setattr(usage, "pending_counts", read)
        persistent_redis.start()  # with its data
        hot_path_reset._retry_at = 0.0
        usage.usage_rollup()
        assert total() == 3
