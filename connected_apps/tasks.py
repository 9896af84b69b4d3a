"""Celery tasks of connected apps."""

from celery import shared_task

from connected_apps.usage import usage_rollup


@shared_task(name="connected_apps.usage_rollup")
def usage_rollup_task() -> int:
    """Beat, every minute: pending token counters into AppUsageDay rows."""
    return usage_rollup()
