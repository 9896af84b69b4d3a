"""Bearer-token validation and client lookup without a database round trip on the hot paths.

Every API call resolves its bearer token (oauth.principals), and every token request loads its
client (oauth.validators.clients). From the database these cost three queries each; here each
worker keeps what it computed (keyed by the token's SHA-256, or the client_id) and trusts it
only while nothing that could change the answer has happened. One cache round trip per request
(a single GET or MGET) tells it so:

- a **generation** value, replaced whenever anything a resolution reads changes (a user, an
  app, its scopes, an org's settings or allowlist, a revocation too large to mark token by
  token: oauth.models.REVOCATION_MARKS_MAX). An entry remembers
  the generation read *before* its database read, so a change that lands while it is being
  computed makes it stale at once;
- a **revocation mark** per token, set when tokens are revoked (a token family, refresh
  rotation, logout, an authorization), so a busy token-refreshing client does not wipe
  everyone's entries.

Token-endpoint clients (`app_facts`) are checked against a generation of their own on
PostgreSQL: a sequence advanced with the cache generation. The client_credentials path reads
no cache at all: its insert carries the condition that the sequence still holds the value the
entry was stored under, so a stale entry issues nothing (and is reloaded).

Both are written immediately and again once the writing transaction commits, so no request
that starts after the change was answered can see the old state. A missing generation (cache
flushed, first start) means "not known": nothing is trusted until a new one is in place.
Entries are also never trusted for more than DOORMAN_TOKEN_CACHE_SECONDS, and expiry is
checked on every use. The cache must be shared by every web process (Redis): settings switch
this off for a production without REDIS_URL.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Model
from django.db.models.base import ModelState
from django.utils import timezone
from redis.exceptions import RedisError, ResponseError

from core.cache import (
    HotPathUnavailable,
    cache_key,
    cache_value,
    hot_path_commands,
    on_redis_recovery,
    redis_config_get,
    redis_errors_raised,
    redis_write_required,
)
from oauth.metrics import bearer_cache_hit, bearer_cache_miss

log = logging.getLogger(__name__)

GENERATION_KEY = "doorman:principals:generation"
APP_GENERATION = "doorman_app_generation"  # a PostgreSQL sequence (oauth migration 0003)
_APP_GENERATION_VALUE = f"SELECT last_value FROM {APP_GENERATION}"  # noqa: S608 (a constant)
REVOKED_PREFIX = "doorman:principals:revoked:"
MAX_ENTRIES = 20_000
# Past a token's expiry its revocation mark no longer matters; keep it a little longer.
REVOKED_MARK_MARGIN = 60

Snapshot = tuple[type[Model], dict[str, object], tuple[str, ...]]


def model_snapshot(instance: Model | None) -> Snapshot | None:
    """The concrete field values of `instance`, to rebuild a fresh copy for each request."""
    if instance is None:
        return None
    fields = instance._meta.concrete_fields
    values = {field.attname: getattr(instance, field.attname) for field in fields}
    mutable = tuple(name for name, value in values.items() if isinstance(value, (list, dict)))
    return type(instance), values, mutable


def model_restore(snapshot: Snapshot | None) -> Model | None:
    """A new instance from a snapshot (what `Model.from_db` builds, without re-running
    `__init__` over every field): nothing one request sets on it reaches another."""
    if snapshot is None:
        return None
    model, values, mutable = snapshot
    instance = model.__new__(model)
    instance.__dict__.update(values)
    for name in mutable:
        instance.__dict__[name] = copy.deepcopy(values[name])
    state = instance._state = ModelState()
    state.adding, state.db = False, "default"
    return instance


@dataclass(frozen=True)
class Entry:
    generation: str
    stored_at: float
    expires: datetime | None
    value: object


class WorkerMemo:
    """Values this worker computed from the database, each trusted while the generation it
    was computed under is current, for DOORMAN_TOKEN_CACHE_SECONDS at most, and (when it has
    one) until its own expiry."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._entries: dict[object, Entry] = {}

    def get(self, key: object, generation: str | None) -> Entry | None:
        entry = self.recent(key)
        if entry is not None and (generation is None or entry.generation != generation):
            self._entries.pop(key, None)
            return None
        return entry

    def recent(self, key: object) -> Entry | None:
        """The entry for `key` if it is young enough and unexpired, whatever the generation:
        trusted only by a caller that checks `entry.generation` in the same step as it acts
        (oauth.engine.client_credentials, inside its insert)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        fresh = time.monotonic() - entry.stored_at < settings.DOORMAN_TOKEN_CACHE_SECONDS
        expired = entry.expires is not None and entry.expires <= timezone.now()
        if not fresh or expired:
            self._entries.pop(key, None)
            return None
        return entry

    def put(
        self, key: object, generation: str | None, value: object, expires: datetime | None = None
    ) -> None:
        """Remember `value`, computed from the database after `generation` was read."""
        if generation is None:
            return
        if len(self._entries) >= self.max_entries:
            # Drop the oldest half (dicts keep insertion order): cheap and good enough for a
            # cache whose entries live a minute at most.
            for old in list(self._entries)[: self.max_entries // 2]:
                self._entries.pop(old, None)
        self._entries[key] = Entry(generation, time.monotonic(), expires, value)

    def forget(self, key: object) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()


principals = WorkerMemo()  # token checksum → what oauth.principals resolved
app_facts = WorkerMemo(max_entries=5_000)  # client_id → the app as the token endpoint needs it


def enabled() -> bool:
    """Whether workers may trust what they remember: DOORMAN_TOKEN_CACHE, on a cache that
    cannot evict revocation marks."""
    return settings.DOORMAN_TOKEN_CACHE and _eviction_check.safe()


SAFE_EVICTION_POLICY = "noeviction"
EVICTION_CHECK_TIMEOUT = 0.5
EVICTION_RECHECK_SECONDS = 30
EVICTION_POLICY_UNSAFE = (
    "DOORMAN_TOKEN_CACHE is off: Redis maxmemory-policy is %r, which may evict token "
    "revocation marks. Set maxmemory-policy noeviction on this Redis to turn it on."
)
EVICTION_POLICY_UNKNOWN = (
    "DOORMAN_TOKEN_CACHE is off: Redis refused CONFIG GET maxmemory-policy (%s), so it may "
    "evict token revocation marks. Allow CONFIG GET, or, once maxmemory-policy is "
    "noeviction, set DOORMAN_TOKEN_CACHE_EVICTION_CHECK=false."
)
EVICTION_CHECK_FAILED = (
    "DOORMAN_TOKEN_CACHE is off for now: Redis did not answer CONFIG GET maxmemory-policy "
    "(%s); asking again in %s s."
)


class EvictionCheck:
    """Whether the cache can never evict a revocation mark, asked of Redis once per process.

    A worker trusts its memo until it sees a revocation mark or a new generation; a Redis
    that evicted either under memory pressure would let a revoked token work for up to
    DOORMAN_TOKEN_CACHE_SECONDS. Marks are written with a TTL, so every `volatile-*` policy
    may evict them, as may every `allkeys-*`: only `noeviction` is safe. A Redis that
    refuses CONFIG GET (managed services may) is treated as unsafe: a revocation must never
    hang on a policy nobody checked; the log line says how to turn the memo on. One that does not
    answer keeps the memo off and is asked again EVICTION_RECHECK_SECONDS later, so start-up
    never waits on it for more than EVICTION_CHECK_TIMEOUT.
    """

    def __init__(self) -> None:
        self._safe: bool | None = None
        self._retry_at = 0.0

    def safe(self) -> bool:
        if self._safe is None:
            return self._check()
        return self._safe

    def reset(self) -> None:
        """Ask again on the next use (tests)."""
        self._safe, self._retry_at = None, 0.0

    def _check(self) -> bool:
        if not settings.DOORMAN_TOKEN_CACHE_EVICTION_CHECK:
            self._safe = True
            return True
        if time.monotonic() < self._retry_at:
            return False
        try:
            policy = redis_config_get("maxmemory-policy", timeout=EVICTION_CHECK_TIMEOUT)
        except ResponseError as exc:
            log.error(EVICTION_POLICY_UNKNOWN, exc)
            self._safe = False
        except (RedisError, OSError) as exc:
            log.warning(EVICTION_CHECK_FAILED, exc, EVICTION_RECHECK_SECONDS)
            self._retry_at = time.monotonic() + EVICTION_RECHECK_SECONDS
            return False
        else:
            self._safe = policy is None or policy == SAFE_EVICTION_POLICY
            if not self._safe:
                log.error(EVICTION_POLICY_UNSAFE, policy)
        return self._safe


_eviction_check = EvictionCheck()


def _generation_or_start(found: object) -> str | None:
    if found is None:
        # Nothing known: start a generation so the next request can trust what it stores.
        cache.add(GENERATION_KEY, secrets.token_hex(8), timeout=None)
        return None
    return found


def _read(*keys: str) -> list | None:
    """The cache values of `keys` in one round trip; None when the cache cannot answer (then
    nothing is trusted and callers read the database)."""
    try:
        replies = hot_path_commands(("MGET", *(cache_key(key) for key in keys)))
    except HotPathUnavailable:
        return None
    if replies is None:  # not Redis: the in-process cache of development and tests
        found = cache.get_many(list(keys))
        return [found.get(key) for key in keys]
    return [cache_value(raw) for raw in replies[0]]


def generation_current() -> str | None:
    """The current generation (one cache round trip); None when none is known yet."""
    found = _read(GENERATION_KEY)
    return None if found is None else _generation_or_start(found[0])


def lookup(checksum: str) -> tuple[str | None, Entry | None]:
    """(current generation, the trusted principal entry for `checksum` or None); one cache
    round trip. The generation is None when the token carries a revocation mark."""
    found = _read(GENERATION_KEY, REVOKED_PREFIX + checksum)
    if found is None:
        bearer_cache_miss.inc()
        return None, None
    generation, revoked = found
    if revoked:
        principals.forget(checksum)
        bearer_cache_miss.inc()
        return None, None
    generation = _generation_or_start(generation)
    entry = principals.get(checksum, generation)
    (bearer_cache_miss if entry is None else bearer_cache_hit).inc()
    return generation, entry


def app_generation_current() -> str | None:
    """The generation `app_facts` entries are stored under. On PostgreSQL the value of the
    APP_GENERATION sequence, which the client_credentials path can check inside its insert
    (no cache round trip); elsewhere the cache generation."""
    if connection.vendor != "postgresql":
        return generation_current()
    with connection.cursor() as cursor:
        cursor.execute(_APP_GENERATION_VALUE)
        return f"app:{cursor.fetchone()[0]}"


def app_generation_is(generation: str) -> tuple[str, list] | None:
    """An SQL condition true while `generation` (from app_generation_current) is current,
    for a statement that must act only on fresh app facts; None off PostgreSQL."""
    if connection.vendor != "postgresql" or not generation.startswith("app:"):
        return None
    return f"({_APP_GENERATION_VALUE}) = %s", [int(generation[4:])]


def _app_generation_advance() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT nextval('{APP_GENERATION}')")


def _now_and_on_commit(action) -> None:
    _tolerant(action)
    transaction.on_commit(lambda: _tolerant(action))


def _tolerant(action) -> None:
    """`action` (an invalidation written to the cache), tried even while this process's
    breaker is open (other workers may be reading Redis and trusting their entries); when
    Redis cannot take it, the change itself still stands: the breaker opens, and once Redis
    answers again, at the latest when this process's recovery probe reaches it, this process
    starts a new generation (`_after_an_outage`), so no entry remembered anywhere before the
    outage is trusted. A revocation is never lost to a Redis failure.

    A Redis that refused the write while answering (full: noeviction refuses every new key,
    marks and generations too, yet serves reads) is asked to delete the generation, which a
    full Redis still does: with none, no worker trusts an entry (`lookup`) until one starts."""
    try:
        redis_write_required(action)
    except (RedisError, OSError, HotPathUnavailable) as exc:
        log.warning("Redis did not take an invalidation; every entry is distrusted on recovery")
        if isinstance(exc, ResponseError):  # Redis answers, but refused it
            with contextlib.suppress(RedisError, OSError), redis_errors_raised():
                cache.delete(GENERATION_KEY)


def _after_an_outage() -> None:
    """Redis is back after a failure: whatever could not be written meanwhile (revocation
    marks, new generations) is made up for by distrusting everything remembered anywhere.
    (If Redis fails again meanwhile, the next recovery tries again.)"""
    principals.clear()
    app_facts.clear()
    _tolerant(lambda: cache.set(GENERATION_KEY, secrets.token_hex(8), timeout=None))


on_redis_recovery(_after_an_outage)


def principals_invalidate() -> None:
    """Something a token resolution reads has changed: distrust every stored entry."""

    def new_generation() -> None:
        _app_generation_advance()  # first: PostgreSQL's, whatever Redis does next
        cache.set(GENERATION_KEY, secrets.token_hex(8), timeout=None)

    _now_and_on_commit(new_generation)


def access_token_revoked(checksum: str, expires: datetime | None) -> None:
    """One access token is gone: mark it so no worker trusts what it stored for it."""
    access_tokens_revoked([(checksum, expires)])


def access_tokens_revoked(tokens: Iterable[tuple[str, datetime | None]]) -> None:
    """Access tokens, given as (checksum, expires), are gone: mark each (one cache round
    trip), kept until the longest-lived of them would have expired."""
    now = timezone.now()
    marks, remaining = {}, 0
    for checksum, expires in tokens:
        marks[REVOKED_PREFIX + checksum] = 1
        if expires is not None:
            remaining = max(remaining, int((expires - now).total_seconds()))
    if not marks:
        return

    def mark() -> None:
        cache.set_many(marks, timeout=remaining + REVOKED_MARK_MARGIN)

    _now_and_on_commit(mark)


def entries_clear() -> None:
    """Forget everything this process stored (tests)."""
    principals.clear()
    app_facts.clear()


def _invalidate_on_change(sender, instance=None, update_fields=None, **kwargs) -> None:
    ignored = IGNORED_UPDATES.get(sender, frozenset())
    if update_fields and set(update_fields) <= ignored:
        return
    principals_invalidate()


# What a token resolution reads, besides the token itself; saves of only the listed fields
# (bookkeeping no resolution looks at) change nothing.
WATCHED_MODELS = (
    "accounts.User",
    "connected_apps.ConnectedApp",
    "connected_apps.AppScope",
    "connected_apps.OrgAppSettings",
    "connected_apps.AllowlistEntry",
)
IGNORED_UPDATES: dict[type[Model], frozenset[str]] = {}


def invalidation_connect() -> None:
    """Drop every stored entry when a watched row is saved or deleted (cascades included:
    a receiver makes Django delete related rows one by one and signal each)."""
    from django.apps import apps
    from django.db.models.signals import post_delete, post_save

    for label in WATCHED_MODELS:
        model = apps.get_model(label)
        post_save.connect(_invalidate_on_change, sender=model, dispatch_uid=f"principals-{label}")
        post_delete.connect(
            _invalidate_on_change, sender=model, dispatch_uid=f"principals-del-{label}"
        )
    IGNORED_UPDATES[apps.get_model("accounts.User")] = frozenset({"last_login"})
    IGNORED_UPDATES[apps.get_model("connected_apps.ConnectedApp")] = frozenset({"last_used_at"})
