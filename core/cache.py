"""Django's Redis cache, with one Redis client per connection pool instead of one per call.

Django's RedisCacheClient builds a new `redis.Redis` for every cache operation, and each
construction copies redis-py's table of ~170 response callbacks: about 0.2 ms of CPU per call,
paid several times on every token request and bearer-authenticated call. A `redis.Redis` is
safe to share between threads (it takes a connection from its pool per command), and the pool
reconnects after a fork, so each process keeps one client per pool.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from functools import cached_property
from typing import TypeVar

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache, RedisCacheClient, RedisSerializer
from kombu.exceptions import KombuError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from core.metrics import REDIS_BREAKER_OPENINGS, REDIS_DEGRADED

log = logging.getLogger(__name__)
T = TypeVar("T")

# While Redis is away the failure counters of password sign-ins can be neither read nor kept:
# sign-ins (the password grant, /accounts/login, the portal's form) wait for it rather than
# go unthrottled, since RFC 6749 §4.3.2 requires brute-force protection.
SIGN_IN_COUNTERS_AWAY = "Sign-in is briefly unavailable; retry in a moment."


class SharedClientRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


# Set inside `redis_errors_raised` (`redis_optional` among others): the caller handles a
# Redis failure itself.
_failure_handled_by_caller: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "redis_failure_handled_by_caller", default=False
)


def _miss_default(args: tuple, kwargs: dict):
    return kwargs.get("default", args[1] if len(args) > 1 else None)


# What each cache operation answers while Redis cannot: a read misses, `add` takes nothing
# (a lock is not held, allauth's TOTP replay mark refuses the code), a write is lost, a counter
# starts again.
_WHILE_AWAY: dict[str, Callable[[tuple, dict], object]] = {
    "get": _miss_default,
    "get_many": lambda args, kwargs: {},
    "has_key": lambda args, kwargs: False,
    "add": lambda args, kwargs: False,
    "set": lambda args, kwargs: None,
    "set_many": lambda args, kwargs: list(args[0]) if args else [],
    "touch": lambda args, kwargs: False,
    "delete": lambda args, kwargs: False,
    "delete_many": lambda args, kwargs: None,
    "incr": lambda args, kwargs: kwargs.get("delta", args[1] if len(args) > 1 else 1),
    "decr": lambda args, kwargs: -kwargs.get("delta", args[1] if len(args) > 1 else 1),
    "clear": lambda args, kwargs: False,
}


def _tolerant(name: str):
    method = getattr(RedisCache, name)
    while_away = _WHILE_AWAY[name]

    def operation(self, *args, **kwargs):
        if _failure_handled_by_caller.get():
            return method(self, *args, **kwargs)
        if _hot_path.breaker_open():
            return while_away(args, kwargs)
        try:
            return method(self, *args, **kwargs)
        except (RedisError, OSError) as exc:
            log.warning("Redis failed in cache.%s (%r); treated as a miss", name, exc)
            redis_failed()
            return while_away(args, kwargs)

    operation.__name__ = operation.__qualname__ = name
    operation.__doc__ = method.__doc__
    return operation


class SharedClientRedisCache(RedisCache):
    """Django's Redis cache with one client per pool, and Redis as an accelerator, not a
    dependency: for code that calls the cache directly (allauth's rate limits and TOTP replay
    marks, usage counts read for a page), Redis trouble is a miss (`_WHILE_AWAY`) that opens
    the hot path's breaker, so the calls after it in the interval do not wait. Inside
    `redis_optional` the error reaches the caller, which decides (password sign-ins refuse)."""

    @cached_property
    def _cache(self) -> SharedClientRedisCacheClient:
        return SharedClientRedisCacheClient(self._servers, **self._options)


for _name in _WHILE_AWAY:
    setattr(SharedClientRedisCache, _name, _tolerant(_name))


def counter_incr(key: str, timeout: int) -> int:
    """Add 1 to the integer at `key` (created at 1, living `timeout` seconds from creation).
    On Redis one round trip (INCR, and EXPIRE NX, which only a new key takes; Django's incr
    costs an EXISTS and an INCRBY); the same through Django's API on any other cache."""
    cache = caches["default"]
    replies = hot_path_commands(*_counter_commands(cache.make_and_validate_key(key), timeout))
    if replies is not None:
        return int(replies[0])
    try:
        return cache.incr(key)
    except ValueError:  # not there yet
        if cache.add(key, 1, timeout):
            return 1
        return cache.incr(key)  # another process added it meanwhile


def counter_add(key: str, timeout: int) -> None:
    """`counter_incr` without waiting for the new value: on Redis the commands are only
    sent (no round trip; packed once per key), elsewhere the same as counter_incr."""
    cache = caches["default"]
    if not isinstance(cache, RedisCache):
        counter_incr(key, timeout)
        return
    # The key is made by the caller's code (no user input), so it is not validated for
    # memcached on every call. A count lost to Redis trouble is a count, not a failed request.
    commands = _counter_commands(cache.make_key(key), timeout)
    redis_optional(lambda: _hot_path.send(*commands), None)


def _counter_commands(full_key: str, timeout: int) -> tuple[tuple, tuple]:
    """INCR, and EXPIRE NX, which only a new key takes."""
    return ("INCR", full_key), ("EXPIRE", full_key, timeout, "NX")


class HotPathRedis:
    """Bare Redis commands for the token and bearer hot paths, pipelined in one round trip.

    redis-py's client wraps every command in retry, pool and response-callback machinery
    (~0.1 ms of CPU each); here each process keeps one connection of its own, sends the
    commands together and reads the raw replies (one connection per thread: a threaded server
    must never interleave two requests' replies). Values are Django cache values (same keys,
    same serialisation). Any Redis trouble raises `HotPathUnavailable` after dropping the
    connection; callers fall back to the database.
    """

    def __init__(self) -> None:
        self._local = threading.local()
        self._packed: dict[tuple, bytes] = {}  # the same bytes on every connection
        # Circuit breaker: after a failure, Redis is not tried again before this moment
        # (time.monotonic), so an unreachable Redis costs one timeout per interval, not one
        # per request.
        self._retry_at = 0.0
        # Set by a failure, cleared by the first success after it (the degraded gauge).
        self._failed = False
        self._probe: threading.Thread | None = None

    def failed(self) -> None:
        """Redis failed (here, or for a caller's own cache call): open the breaker, and clear
        the degraded gauge once Redis answers again, whether or not requests come."""
        if not self.breaker_open():
            REDIS_BREAKER_OPENINGS.inc()
        if not self._failed:
            REDIS_DEGRADED.set(1)
        self._failed = True
        self._retry_at = time.monotonic() + settings.DOORMAN_REDIS_RETRY_SECONDS
        self._probe_start()

    def _probe_start(self) -> None:
        """A thread of this process that asks Redis once per interval until it answers:
        a worker reports Redis back (the degraded gauge) seconds after it is, not at its
        next request, however idle it is."""
        probe = self._probe
        if probe is not None and probe.is_alive():
            return  # (a thread does not outlive a fork: a forked worker starts its own)
        self._probe = threading.Thread(
            target=self._probe_until_recovered, name="redis-recovery-probe", daemon=True
        )
        self._probe.start()

    def _probe_until_recovered(self) -> None:
        while self._failed:
            time.sleep(max(self._retry_at - time.monotonic(), 0.05))
            if not self._failed or not isinstance(caches["default"], RedisCache):
                return
            try:
                self.execute(("PING",))  # on success, recovered
            except HotPathUnavailable:
                continue  # failed() set the next try
            except Exception:  # never let the probe die noisily; a request will try again
                log.exception("The Redis recovery probe stopped")
                return

    def breaker_open(self) -> bool:
        return time.monotonic() < self._retry_at

    def _recovered(self) -> None:
        if self._failed:
            self._failed = False
            REDIS_DEGRADED.set(0)

    def _connection(self, name: str, setup: tuple = ()):
        """This thread's connection `name`, made in this process (after a fork, a new one),
        with the `setup` command sent once it is connected. Made outside the cache's pool,
        which would count it for ever (a failed one too: a Redis blip used up its slots and
        every request then failed until a restart), with connect and read timeouts."""
        if self.breaker_open():
            raise HotPathUnavailable("Redis failed a moment ago; not tried again yet.")
        local = self._local
        connection = getattr(local, name, None)
        if connection is None or getattr(local, f"{name}_pid") != os.getpid():
            connection = _connection_of_its_own(settings.DOORMAN_REDIS_TIMEOUT)
            setattr(local, name, connection)
            setattr(local, f"{name}_pid", os.getpid())
            if setup:
                connection.connect()
                connection.send_command(*setup)
        return connection

    def _drop(self, name: str) -> None:
        """Forget this thread's connection `name` after an error on it, and open the
        breaker for DOORMAN_REDIS_RETRY_SECONDS."""
        self.failed()
        self._forget(name)

    def _forget(self, name: str) -> None:
        connection = getattr(self._local, name, None)
        setattr(self._local, name, None)
        if connection is not None:
            with contextlib.suppress(RedisError, OSError):  # it is being thrown away
                connection.disconnect()

    def send(self, *commands: tuple) -> None:
        """Send `commands` without waiting for Redis to run them (a count no request needs
        to see the result of), on a connection of their own to which Redis sends no replies
        at all (CLIENT REPLY OFF), so nothing is ever left to read. A command is lost only if
        Redis goes away as it is sent."""
        self._with_connection("quiet", lambda quiet: self._send(quiet, commands))

    def _send(self, quiet, commands: tuple) -> None:
        packed = self._packed.get(commands)
        if packed is None:  # commands recur (a counter per app and day): pack them once
            if len(self._packed) >= 4096:
                self._packed.clear()
            packed = self._packed[commands] = b"".join(quiet.pack_commands(commands))
        quiet.send_packed_command([packed])

    def execute(self, *commands: tuple) -> list:
        replies = self._with_connection("connection", lambda c: self._execute(c, commands))
        for reply in replies:
            if isinstance(reply, ResponseError):
                raise HotPathUnavailable from reply
        self._recovered()
        return replies

    @staticmethod
    def _execute(connection, commands: tuple) -> list:
        connection.send_packed_command(connection.pack_commands(commands))
        return [connection.read_response() for _ in commands]

    def _with_connection(self, name: str, use):
        """`use(connection)` on this thread's connection `name`. A connection Redis closed
        (it restarted since) is made again once; any other failure, or a second one, opens
        the breaker: HotPathUnavailable. A timeout is never retried (a frozen Redis would
        hold the request twice as long)."""
        setup = ("CLIENT", "REPLY", "OFF") if name == "quiet" else ()
        for attempt in (1, 2):
            try:
                return use(self._connection(name, setup=setup))
            except (RedisError, OSError) as exc:
                closed = isinstance(exc, RedisConnectionError | ConnectionError)
                timed_out = isinstance(exc, RedisTimeoutError | TimeoutError)
                if attempt == 1 and closed and not timed_out:
                    self._forget(name)
                    continue
                self._drop(name)
                raise HotPathUnavailable from exc
        raise AssertionError("unreachable")  # pragma: no cover


def _connection_of_its_own(timeout: float):
    """A new connection to the cache's Redis, outside its pool (which would count it for
    ever), giving up on connecting and on each reply after `timeout` seconds."""
    pool = caches["default"]._cache._get_connection_pool(write=True)
    kwargs = {**pool.connection_kwargs, "socket_timeout": timeout}
    kwargs["socket_connect_timeout"] = timeout
    return pool.connection_class(**kwargs)


class HotPathUnavailable(Exception):
    pass


_hot_path = HotPathRedis()


def redis_optional(action: Callable[[], T], fallback: T) -> T:
    """`action()`, a use of Redis a request can do without (a rate limit, a lockout, a
    usage count): skipped while the hot path's breaker is open after a failure, and
    `fallback` when Redis fails now (the breaker then opens). Never raises a Redis error, so
    Redis trouble makes these limits lenient for a moment, never a request fail. (Celery's
    broker is this Redis: a task that cannot be sent is one of these uses, as kombu's
    error.)"""
    if not isinstance(caches["default"], RedisCache):
        return action()
    if _hot_path.breaker_open():
        return fallback
    try:
        with redis_errors_raised():
            return action()
    except (RedisError, OSError, HotPathUnavailable, KombuError) as exc:
        log.warning(
            "Redis failed (%r); going on without it for %ss",
            exc,
            settings.DOORMAN_REDIS_RETRY_SECONDS,
        )
        redis_failed()
        return fallback


@contextlib.contextmanager
def redis_errors_raised() -> Iterator[None]:
    """Inside, the Django cache tries Redis whatever the breaker says and raises its errors,
    for a caller to which a miss would be a wrong answer (it handles the failure itself)."""
    handled = _failure_handled_by_caller.set(True)
    try:
        yield
    finally:
        _failure_handled_by_caller.reset(handled)


def redis_status() -> str:
    """`ok`, `degraded` (Redis failed: the service goes on from PostgreSQL), or `off` (no
    Redis configured), asking Redis with one PING unless it failed a moment ago."""
    if not isinstance(caches["default"], RedisCache):
        return "off"
    answered = redis_optional(lambda: _hot_path.execute(("PING",)) == [b"PONG"], False)
    return "ok" if answered else "degraded"


def redis_failed() -> None:
    """A caller's own Redis call failed: the hot path's breaker opens (until Redis answers
    it again)."""
    _hot_path.failed()


def hot_path_commands(*commands: tuple) -> list | None:
    """Run raw commands on Redis in one round trip; None when the cache is not Redis."""
    if not isinstance(caches["default"], RedisCache):
        return None
    return _hot_path.execute(*commands)


def cache_key(key: str) -> str:
    return caches["default"].make_and_validate_key(key)


_serializer = RedisSerializer()


def cache_value(raw: bytes | None):
    """A Django cache value from a raw Redis reply."""
    return None if raw is None else _serializer.loads(raw)
