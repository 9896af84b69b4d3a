"""Bearer-token validation and client lookup from what each worker remembers.

Every API call resolves its bearer token (oauth.principals), and every token request loads its
client (oauth.engine.clients). From the database these cost three queries each; here each
worker keeps what it computed (keyed by the token's SHA-256, or the client_id) and trusts it
only while nothing that could change the answer has happened, as the database itself says:

- a **generation**, one row of `doorman_generation`, which triggers give a new value in the
  same transaction as any change to what a resolution reads (a user, an app, its scopes, an
  org's settings or allowlist, a token changed in place: oauth migration 0004). No write can
  skip it, whether through a service, a queryset `.update()`, raw SQL or psql. An entry
  remembers the generation read *before* its database reads, so a change that commits while
  it is being computed makes it stale at once;
- for a bearer token, **its row**: a revoked token is a deleted row, so an entry is trusted
  only while the token's row still exists, unexpired.

A remembered token therefore costs one statement (`lookup`: the generation and whether the
token's row is live) and no Redis at all, so a revocation reaches every worker on the next
request by construction, whatever Redis does; a token not remembered costs no more than its
resolution (the generation comes with the token's row, `generation_expression`).
Token-endpoint clients (`app_facts`) are trusted under the same generation; the
client_credentials path reads it inside its insert (`app_generation_is`), so a stale entry
issues nothing (and is reloaded). An introspection checks its client's entry and its token's
against one read of the generation (`GenerationRead`, the token's statement), so with both
remembered it costs that one statement.

Entries are also never trusted for more than DOORMAN_TOKEN_CACHE_SECONDS, and expiry is
checked on every use.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.db.models import Model
from django.db.models.base import ModelState
from django.db.models.expressions import RawSQL
from django.utils import timezone

from oauth.metrics import bearer_cache_hit, bearer_cache_miss
from oauth.models import AccessToken

GENERATION_TABLE = "doorman_generation"  # one row (oauth migration 0004)
_GENERATION = f"SELECT value FROM {GENERATION_TABLE}"  # noqa: S608 (constants)
# The generation, and whether the token's row is there and unexpired, in one statement; on
# PostgreSQL its own clock (a datetime parameter costs more to send than the rest).
_LIVE_CHECK = (
    "SELECT g.value, EXISTS(SELECT 1 FROM {tokens} WHERE token_checksum = %s AND expires > {now})"
    " FROM {generation} g"
)
_LIVE_CHECK_POSTGRESQL, _LIVE_CHECK_ELSEWHERE = (
    _LIVE_CHECK.format(tokens=AccessToken._meta.db_table, now=now, generation=GENERATION_TABLE)
    for now in ("now()", "%s")
)
MAX_ENTRIES = 20_000

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
    generation: int
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

    def get(self, key: object, generation: int | None) -> Entry | None:
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
        self, key: object, generation: int | None, value: object, expires: datetime | None = None
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
    """Whether workers may trust what they remember (DOORMAN_TOKEN_CACHE)."""
    return settings.DOORMAN_TOKEN_CACHE


def generation_current() -> int:
    """The current generation (one statement). Read it before the data an entry is
    computed from."""
    with connection.cursor() as cursor:
        cursor.execute(_GENERATION)
        return cursor.fetchone()[0]


def generation_expression() -> RawSQL:
    """The generation as a queryset annotation: read in the same statement (the same
    snapshot) as the rows, so before anything read after them."""
    return RawSQL(_GENERATION, ())  # noqa: S611 (a constant)


def _live_check(checksum: str) -> tuple[int, bool]:
    """The generation, and whether the token `checksum`'s row is there, unexpired (one
    statement)."""
    if connection.vendor == "postgresql":
        statement, params = _LIVE_CHECK_POSTGRESQL, [checksum]
    else:
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        statement, params = _LIVE_CHECK_ELSEWHERE, [checksum, now]
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        generation, live = cursor.fetchone()
    return generation, bool(live)


class GenerationRead:
    """The generation for a request that trusts both an app's entry and a token's (an
    introspection: its client's, then the token's), read once, when first needed: with the
    token `checksum`'s liveness (`_live_check`) when this worker remembers that token, else
    alone. One statement for both checks, which then see the database at the same moment."""

    def __init__(self, checksum: str | None) -> None:
        self.checksum = checksum
        self._read: tuple[int, bool | None] | None = None

    def generation(self) -> int:
        return self._value()[0]

    def live_check(self, checksum: str) -> tuple[int, bool] | None:
        """(generation, whether `checksum`'s row was live then), as `_live_check` answers,
        when it was read with the generation; None when it was not."""
        generation, live = self._value()
        return None if live is None or checksum != self.checksum else (generation, live)

    def _value(self) -> tuple[int, bool | None]:
        if self._read is None:
            if self.checksum is not None and principals.recent(self.checksum) is not None:
                self._read = _live_check(self.checksum)
            else:
                self._read = generation_current(), None
        return self._read


def lookup(checksum: str, read: GenerationRead | None = None) -> Entry | None:
    """This worker's entry for the token `checksum` if it may be trusted: one statement when
    there is one to check (the generation, and whether the token's row is there, unexpired),
    none when `read` already holds that answer or there is nothing to check. An entry that
    fails either check is dropped."""
    entry = principals.recent(checksum)
    if entry is not None:
        checked = read.live_check(checksum) if read is not None else None
        generation, live = checked if checked is not None else _live_check(checksum)
        if live and generation == entry.generation:
            bearer_cache_hit.inc()
            return entry
        principals.forget(checksum)
    bearer_cache_miss.inc()
    return None


def app_generation_current(read: GenerationRead | None = None) -> int:
    """The generation `app_facts` entries are stored under: the request's `read`, when it
    has one, else one statement."""
    return read.generation() if read is not None else generation_current()


def app_generation_is(generation: int) -> tuple[str, list] | None:
    """An SQL condition true while `generation` (from app_generation_current) is current,
    for a statement that must act only on fresh app facts; None off PostgreSQL (whose
    rows_insert alone takes one)."""
    if connection.vendor != "postgresql":
        return None
    return f"({_GENERATION}) = %s", [generation]


def entries_clear() -> None:
    """Forget everything this process stored (tests)."""
    principals.clear()
    app_facts.clear()
