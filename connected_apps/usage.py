"""Recording usage on the token path: one UPDATE (or one INSERT on a day's first token)."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from connected_apps.models import AppUsageDay, ConnectedApp


def usage_record_token_issued(*, app: ConnectedApp) -> None:
    """Count one token for today and stamp `last_used_at`; cheap enough for the hot path."""
    now = timezone.now()
    ConnectedApp.objects.filter(pk=app.pk).update(last_used_at=now)
    day = now.date()
    if AppUsageDay.objects.filter(app=app, day=day).update(tokens_issued=F("tokens_issued") + 1):
        return
    try:
        with transaction.atomic():
            AppUsageDay.objects.create(app=app, day=day, tokens_issued=1)
    except IntegrityError:  # another request created today's row first
        AppUsageDay.objects.filter(app=app, day=day).update(tokens_issued=F("tokens_issued") + 1)
