"""Audit background work: CSV exports and the retention purge (beat, config/celery.py)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit.models import AuditEvent, AuditExport, AuditExportStatus
from audit.selectors import CSV_CHUNK, CSV_COLUMNS, AuditFilters, audit_event_list, csv_row
from core.cache import redis_optional
from core.db import statement_timeout_lifted

PROGRESS_EVERY = 500
# A finished export's CSV is kept this long for its download, then purged with the events.
EXPORT_KEPT_FOR = timedelta(days=7)
# An export still pending this long after it was asked for lost its message: send it again.
RESUME_AFTER = timedelta(minutes=1)
RESUME_BATCH = 100


@shared_task(name="audit.export_run")
@statement_timeout_lifted()  # long by nature; no request waits for it
def audit_export_run(export_id: str) -> dict:
    """Write the CSV of one export job, saving its progress as it goes."""
    export = AuditExport.objects.select_related("organization").filter(id=export_id).first()
    if export is None:  # purged, or a stale message from another database
        return {"status": "missing", "rows": 0}
    # Taken by one run only: the same export may be sent twice (exports_resume after a
    # broker outage, a message delivered again).
    claimed = AuditExport.objects.filter(
        id=export.id, status__in=(AuditExportStatus.PENDING, AuditExportStatus.FAILED)
    ).update(status=AuditExportStatus.RUNNING, progress=0)
    if not claimed:
        export.refresh_from_db(fields=["status", "row_count"])
        return {"status": export.status, "rows": export.row_count}
    try:
        filters = AuditFilters.parse(export.filters)
        events = audit_event_list(org=export.organization, filters=filters)
        total = events.count()
        AuditExport.objects.filter(id=export.id).update(total=total)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        rows = 0
        for event in events.iterator(chunk_size=CSV_CHUNK):
            writer.writerow(csv_row(event))
            rows += 1
            if rows % PROGRESS_EVERY == 0:
                AuditExport.objects.filter(id=export.id).update(
                    row_count=rows, progress=min(99, rows * 100 // max(total, 1))
                )
        AuditExport.objects.filter(id=export.id).update(
            status=AuditExportStatus.DONE,
            row_count=rows,
            progress=100,
            csv=buffer.getvalue(),
            finished_at=timezone.now(),
        )
        return {"status": AuditExportStatus.DONE.value, "rows": rows}
    except Exception:
        AuditExport.objects.filter(id=export.id).update(
            status=AuditExportStatus.FAILED,
            error="The export failed.",
            finished_at=timezone.now(),
        )
        raise


def audit_export_queue(task: Any, export_id: str) -> None:
    """Send `task` for the export to the worker. A broker (Redis) that is away leaves the
    export pending, not the request failed: `audit.exports_resume` sends it again once the
    broker is back."""
    redis_optional(lambda: task.delay(export_id), None)


@shared_task(name="audit.exports_resume")
def audit_exports_resume() -> int:
    """Send again the exports still pending a minute after they were asked for: their
    message was lost to a broker outage (audit_export_queue). Returns how many."""
    stale = AuditExport.objects.filter(
        status=AuditExportStatus.PENDING, created_at__lt=timezone.now() - RESUME_AFTER
    ).values_list("id", flat=True)[:RESUME_BATCH]
    stale = [str(export_id) for export_id in stale]
    for export_id in stale:
        audit_export_queue(audit_export_run, export_id)
    return len(stale)


@shared_task(name="audit.purge_expired")
@statement_timeout_lifted()  # long by nature; no request waits for it
def audit_purge_expired() -> dict:
    """Delete audit events older than DOORMAN_AUDIT_RETENTION_DAYS (0 keeps them forever),
    and background exports older than EXPORT_KEPT_FOR.

    The only DELETE the PostgreSQL append-only trigger lets through: it runs in a transaction
    that first sets `doorman.audit_retention` (migration 0004)."""
    exports, _ = AuditExport.objects.filter(
        created_at__lt=timezone.now() - EXPORT_KEPT_FOR
    ).delete()
    days = settings.DOORMAN_AUDIT_RETENTION_DAYS
    if days <= 0:
        return {"audit_events": 0, "exports": exports}
    cutoff = timezone.now() - timedelta(days=days)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL doorman.audit_retention = 'on'")
        deleted, _ = AuditEvent.objects.filter(created_at__lt=cutoff).delete()
    return {"audit_events": deleted, "exports": exports}
