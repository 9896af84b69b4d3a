"""Celery application: Redis broker when REDIS_URL is set, eager in-process tasks otherwise.

`celery -A config beat` runs the housekeeping below; `celery -A config worker` runs it and the
audit exports."""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("doorman")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    # Token counters from the cache into AppUsageDay (the usage chart's rows).
    "connected-apps-usage-rollup": {"task": "connected_apps.usage_rollup", "schedule": 60.0},
    # Expired access tokens, refresh tokens past their lifetime, authorization codes, jtis.
    "oauth-purge-expired": {"task": "oauth.purge_expired", "schedule": crontab(minute=17)},
    # Audit exports whose message a broker outage lost.
    "audit-exports-resume": {"task": "audit.exports_resume", "schedule": 60.0},
    # Portal sessions past their expiry.
    "accounts-purge-expired-sessions": {
        "task": "accounts.purge_expired_sessions",
        "schedule": crontab(minute=29),
    },
    # Audit events older than DOORMAN_AUDIT_RETENTION_DAYS.
    "audit-purge-expired": {
        "task": "audit.purge_expired",
        "schedule": crontab(hour=3, minute=41),
    },
}
