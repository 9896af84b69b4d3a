"""Bearer-token validation without a database round trip on the hot path.

Every API call resolves its bearer token (oauth.principals). Resolving from the database costs
three queries; here each worker keeps what it resolved, keyed by the token's SHA-256, and
trusts it only while nothing that could change the answer has happened. One cache round trip
per request (a single MGET) tells it so:

- a **generation** value, replaced whenever anything a resolution reads changes (a user, an
  app, its scopes, an org's settings or allowlist, a set-wise revocation). An entry remembers
  the generation read *before* its database read, so a change that lands while it is being
  computed makes it stale at once;
- a **revocation mark** per token, set when one token is revoked (the revocation endpoint,
  refresh rotation), so a busy token-refreshing client does not wipe everyone's entries.

Both are written immediately and again once the writing transaction commits, so no request
that starts after the change was answered can see the old state. A missing generation (cache
flushed, first start) means "not known": nothing is trusted until a new one is in place.
Entries are also never trusted for more than DOORMAN_TOKEN_CACHE_SECONDS, and expiry is
checked on every use. The cache must be shared by every web process (Redis): settings switch
this off for a production without REDIS_URL.
"""

from __future__ import annotations

import copy
import secrets
import time
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Model
from django.utils import timezone

GENERATION_KEY = "doorman:principals:generation"
REVOKED_PREFIX = "doorman:principals:revoked:"
MAX_ENTRIES = 20_000
# Past a token's expiry its revocation mark no longer matters; keep it a little longer.
REVOKED_MARK_MARGIN = 60

Snapshot = tuple[type[Model], tuple[str, ...], tuple]


def model_snapshot(instance: Model | None) -> Snapshot | None:
    """The concrete field values of `instance`, to rebuild a fresh copy for each request."""
    if instance is None:
        return None
    names = tuple(field.attname for field in instance._meta.concrete_fields)
    return type(instance), names, tuple(getattr(instance, name) for name in names)


def model_restore(snapshot: Snapshot | None) -> Model | None:
    """A new instance from a snapshot: nothing one request sets on it reaches another."""
    if snapshot is None:
        return None
    model, names, values = snapshot
    values = tuple(
        copy.deepcopy(value) if isinstance(value, (list, dict)) else value for value in values
    )
    return model.from_db("default", names, values)


@dataclass(frozen=True)
class Entry:
    generation: str
    stored_at: float
    expires: datetime
    value: object


_entries: dict[str, Entry] = {}


def enabled() -> bool:
    return settings.DOORMAN_TOKEN_CACHE


def lookup(checksum: str) -> tuple[str | None, Entry | None]:
    """(current generation, the trusted entry for `checksum` or None); one cache round trip.
    The generation is None when the token carries a revocation mark or none is known."""
    revoked_key = REVOKED_PREFIX + checksum
    found = cache.get_many([GENERATION_KEY, revoked_key])
    if found.get(revoked_key):
        _entries.pop(checksum, None)
        return None, None
    generation = found.get(GENERATION_KEY)
    if generation is None:
        # Nothing known: start a generation so the next request can trust what it stores.
        cache.add(GENERATION_KEY, secrets.token_hex(8), timeout=None)
        return None, None
    entry = _entries.get(checksum)
    if entry is None:
        return generation, None
    fresh = time.monotonic() - entry.stored_at < settings.DOORMAN_TOKEN_CACHE_SECONDS
    if entry.generation != generation or not fresh or entry.expires <= timezone.now():
        _entries.pop(checksum, None)
        return generation, None
    return generation, entry


def store(checksum: str, generation: str | None, expires: datetime, value: object) -> None:
    """Remember `value` for `checksum`, computed from the database under `generation`."""
    if generation is None:
        return
    if len(_entries) >= MAX_ENTRIES:
        # Drop the oldest half (dicts keep insertion order): cheap and good enough for a cache
        # whose entries live a minute at most.
        for key in list(_entries)[: MAX_ENTRIES // 2]:
            _entries.pop(key, None)
    _entries[checksum] = Entry(generation, time.monotonic(), expires, value)


def _now_and_on_commit(action) -> None:
    action()
    transaction.on_commit(action)


def principals_invalidate() -> None:
    """Something a token resolution reads has changed: distrust every stored entry."""

    def new_generation() -> None:
        cache.set(GENERATION_KEY, secrets.token_hex(8), timeout=None)

    _now_and_on_commit(new_generation)


def access_token_revoked(checksum: str, expires: datetime | None) -> None:
    """One access token is gone: mark it so no worker trusts what it stored for it."""
    remaining = 0
    if expires is not None:
        remaining = max(0, int((expires - timezone.now()).total_seconds()))

    def mark() -> None:
        cache.set(REVOKED_PREFIX + checksum, 1, timeout=remaining + REVOKED_MARK_MARGIN)

    _now_and_on_commit(mark)


def entries_clear() -> None:
    """Forget everything this process stored (tests)."""
    _entries.clear()


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
