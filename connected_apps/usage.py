"""Token usage counters: a cache increment on the token path, rolled up by Celery beat.

Issuing a token adds 1 to a per-(app, day) counter in the cache (Redis in production: one
INCR, no database write). `usage_rollup` (beat, every minute) moves those pending counts into
`AppUsageDay` rows: it reads a counter and decrements it by what it read, both atomic, so
tokens issued in between are never lost nor counted twice. Readers add the pending counts to
the rows, so the figures are exact at any moment.

`last_used_at` is written at most once a minute per app: the token path already holds the app
row, and skips the UPDATE while the stored value is that fresh.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from connected_apps.models import AppUsageDay, ConnectedApp
from core.cache import counter_add, redis_errors_raised

COUNTER_TTL = 40 * 24 * 3600  # longer than the 30-day window, so nothing expires unrolled
LAST_USED_RESOLUTION = timedelta(seconds=60)
ROLLUP_DAYS = 30
ROLLUP_BATCH = 500


# When this worker last stamped each app's last_used_at: the app it is handed may be a
# remembered copy (oauth.principal_cache) that never sees the UPDATE.
_stamped: dict[int, object] = {}


def usage_counter_key(app_pk: int, day: date) -> str:
    return f"usage:tokens:{app_pk}:{day.isoformat()}"


def usage_record_token_issued(*, app: ConnectedApp) -> None:
    """Count one token for today; stamp `last_used_at` if it is over a minute old. On Redis
    the count is sent without waiting for its reply, so a token request waits on no second
    server; Redis serves connections in the order they became readable, so the count is in
    place before a request sent after this one's answer reads it."""
    now = timezone.now()
    counter_add(usage_counter_key(app.pk, now.date()), COUNTER_TTL)
    last_used = max(filter(None, (app.last_used_at, _stamped.get(app.pk))), default=None)
    if last_used is None or now - last_used >= LAST_USED_RESOLUTION:
        ConnectedApp.objects.filter(pk=app.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
        ).update(last_used_at=now)
        app.last_used_at = _stamped[app.pk] = now


def pending_counts(app_pks: Iterable[int], days: list[date]) -> dict[tuple[int, date], int]:
    """Counts issued but not yet rolled up, by (app, day)."""
    keys = {usage_counter_key(pk, day): (pk, day) for pk in app_pks for day in days}
    found = cache.get_many(list(keys)) if keys else {}
    return {keys[key]: int(value) for key, value in found.items() if value}


def _add_to_day(app_pk: int, day: date, count: int) -> None:
    updated = AppUsageDay.objects.filter(app_id=app_pk, day=day).update(
        tokens_issued=F("tokens_issued") + count
    )
    if updated:
        return
    try:
        with transaction.atomic():
            AppUsageDay.objects.create(app_id=app_pk, day=day, tokens_issued=count)
    except IntegrityError:  # created concurrently
        AppUsageDay.objects.filter(app_id=app_pk, day=day).update(
            tokens_issued=F("tokens_issued") + count
        )


def usage_rollup(*, today: date | None = None) -> int:
    """Move pending counters of the last 30 days into AppUsageDay; returns tokens moved."""
    today = today or timezone.now().date()
    days = [today - timedelta(days=i) for i in range(ROLLUP_DAYS)]
    moved = 0
    app_pks = list(ConnectedApp.objects.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(app_pks), ROLLUP_BATCH):
        for (app_pk, day), count in pending_counts(
            app_pks[start : start + ROLLUP_BATCH], days
        ).items():
            key = usage_counter_key(app_pk, day)
            try:
                # Redis trouble stops the run (a DECR passed off as done would count these
                # tokens again next run); what is not moved waits for the next one.
                with redis_errors_raised():
                    cache.decr(key, count)
            except ValueError:  # the key expired: its count is gone either way
                continue
            _add_to_day(app_pk, day, count)
            moved += count
    return moved
