"""Accounts housekeeping (beat, config/celery.py): expired portal sessions go."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from accounts.models import PortalSession


@shared_task(name="accounts.purge_expired_sessions")
def portal_sessions_purge_expired() -> dict:
    """Delete portal sessions past their expiry (what `manage.py clearsessions` does, with a
    count): a session is refused from its expiry on, its row is only kept until this runs."""
    deleted, _ = PortalSession.objects.filter(expire_date__lt=timezone.now()).delete()
    return {"portal_sessions": deleted}
