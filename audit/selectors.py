"""Reading the audit trail (SPEC §7): which events, the event shape and CSV rows. Who may read
which org's trail is accounts' to say (accounts.selectors.audit_org_get)."""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate, TruncDay, TruncHour, TruncWeek
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from audit.models import AuditAction, AuditEvent, AuditExport, AuditOutcome

CSV_COLUMNS = [
    "id",
    "timestamp",
    "action",
    "outcome",
    "org_id",
    "actor_type",
    "actor_id",
    "actor_name",
    "target_type",
    "target_id",
    "client_ip",
    "user_agent",
    "details",
]
CSV_CHUNK = 2000
FILTER_NAMES = ("from", "to", "actor", "client_id", "action", "outcome")


def _parse_time(name: str, raw: str) -> datetime:
    value = parse_datetime(raw) if len(raw) <= 64 else None
    if value is None:
        day = parse_date(raw) if len(raw) == 10 else None
        if day is None:
            raise ValueError
        value = datetime(day.year, day.month, day.day)
    if timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    # In UTC: PostgreSQL refuses offsets beyond ±15:59 (`+16:00` was a 500, and a CSV stream
    # cut mid-way); ISO 8601 allows them, and the instant is the same.
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:  # 0001-01-01T00:00+16:00 is before the first datetime
        raise ValueError from exc


@dataclass(frozen=True)
class AuditFilters:
    """The query filters of the audit log (API and portal): all optional."""

    time_from: datetime | None = None
    time_to: datetime | None = None
    actor: str = ""
    client_id: str = ""
    action: str = ""
    outcome: str = ""

    @classmethod
    def parse(cls, params: Any) -> AuditFilters:
        """From query parameters; a ValidationError keyed by parameter name when bad."""
        errors: dict[str, list[str]] = {}
        values: dict[str, Any] = {}
        for name, attr in (("from", "time_from"), ("to", "time_to")):
            raw = (params.get(name) or "").strip()
            if raw:
                try:
                    values[attr] = _parse_time(name, raw)
                except ValueError:
                    errors[name] = ["Must be an ISO 8601 date or date-time."]
        for name in ("actor", "client_id", "action", "outcome"):
            raw = (params.get(name) or "").strip()
            if len(raw) > 150:
                errors[name] = ["Too long."]
            elif "\x00" in raw:
                errors[name] = ["Invalid character."]
            else:
                values[name] = raw
        if values.get("outcome") and values["outcome"] not in AuditOutcome.values:
            errors["outcome"] = [f"Must be one of: {', '.join(AuditOutcome.values)}."]
        if (
            values.get("time_from")
            and values.get("time_to")
            and values["time_from"] > values["time_to"]
        ):
            errors["to"] = ["Must not be before `from`."]
        if errors:
            raise ValidationError(errors)
        return cls(**values)

    def as_params(self) -> dict[str, str]:
        """Back to query parameters (stored with a background export)."""
        params = {
            "from": self.time_from.isoformat() if self.time_from else "",
            "to": self.time_to.isoformat() if self.time_to else "",
            "actor": self.actor,
            "client_id": self.client_id,
            "action": self.action,
            "outcome": self.outcome,
        }
        return {k: v for k, v in params.items() if v}


def app_history_match(client_id: str) -> Q:
    """Every event of an app's history (SPEC §4): what it did (its tokens, refusals and API
    calls' writes: it is the actor) and what was done to it (created, changed, secret rotated,
    scopes, allowlist, consents, revoked, deleted: it is the subject). Both columns are
    indexed, so this is one indexed query whatever the size of the log."""
    return Q(actor_client_id=client_id) | Q(subject_client_id=client_id)


def token_refusals_per_day(*, client_id: str, first: date, last: date) -> dict[date, int]:
    """Token requests of the app `client_id` refused from UTC day `first` to `last` (both
    included), by day; days without one are left out. One grouped query over the partial
    index of refusals (audit_event_app_refusals): its cost follows the refusals in the
    range, never the app's issued tokens nor the rest of the log, and it returns at most one
    row a day."""
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    return audit_events_per_day(
        AuditEvent.objects.filter(
            actor_client_id=client_id,
            action=AuditAction.TOKEN_REFUSED,
            created_at__gte=start,
            created_at__lt=end,
        )
    )


def audit_events_per_day(events: QuerySet[AuditEvent]) -> dict[date, int]:
    """How many of `events` fell on each UTC day, in one grouped query; days without one are
    left out."""
    rows = (
        events.order_by()
        .annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values("day")
        .annotate(n=Count("*"))
        .values_list("day", "n")
    )
    return dict(rows)


def audit_event_list(*, org: Any, filters: AuditFilters) -> QuerySet[AuditEvent]:
    """Events of `org` (an organization or BG) and of every BG below it, newest first. The
    caller checked access (accounts.selectors.audit_org_get)."""
    events = AuditEvent.objects.filter(organization__path__startswith=org.path)
    if filters.time_from:
        events = events.filter(created_at__gte=filters.time_from)
    if filters.time_to:
        events = events.filter(created_at__lte=filters.time_to)
    if filters.actor:
        match = Q(actor_name=filters.actor) | Q(actor_client_id=filters.actor)
        with contextlib.suppress(ValueError):
            match |= Q(actor_user_id=uuid.UUID(filters.actor))
        events = events.filter(match)
    if filters.client_id:
        events = events.filter(app_history_match(filters.client_id))
    if filters.action:
        events = events.filter(action=filters.action)
    if filters.outcome:
        events = events.filter(outcome=filters.outcome)
    return events.order_by("-created_at", "-id")


def actor_data(event: AuditEvent) -> dict[str, str] | None:
    if event.actor_user_id is not None:
        return {"type": "user", "id": str(event.actor_user_id), "name": event.actor_name}
    if event.actor_client_id:
        return {"type": "app", "id": event.actor_client_id, "name": event.actor_name}
    return None


def event_data(event: AuditEvent) -> dict[str, Any]:
    """One event in the API's shape (SPEC §4)."""
    return {
        "id": str(event.id),
        "timestamp": event.created_at.isoformat(),
        "action": event.action,
        "outcome": event.outcome,
        "org_id": str(event.organization_id) if event.organization_id else None,
        "actor": actor_data(event),
        "target": {"type": event.target_type, "id": event.target_id},
        "client_ip": event.client_ip,
        "user_agent": event.user_agent,
        "details": event.details,
    }


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # A spreadsheet would run a cell starting with one of these as a formula.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def csv_row(event: AuditEvent) -> list[str]:
    actor = actor_data(event) or {"type": "", "id": "", "name": ""}
    values = [
        event.id,
        event.created_at.isoformat(),
        event.action,
        event.outcome,
        event.organization_id or "",
        actor["type"],
        actor["id"],
        actor["name"],
        event.target_type,
        event.target_id,
        event.client_ip or "",
        event.user_agent,
        json.dumps(event.details, cls=DjangoJSONEncoder, sort_keys=True),
    ]
    return [_cell(v) for v in values]


def csv_lines(events: Iterable[AuditEvent]) -> Iterator[str]:
    """The CSV text, header first, one line at a time (for a streamed response)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
        return text

    writer.writerow(CSV_COLUMNS)
    yield flush()
    for event in events:
        writer.writerow(csv_row(event))
        yield flush()


def csv_stream(queryset: QuerySet[AuditEvent]) -> Iterator[str]:
    """The CSV of `queryset`, for a streamed response. Its query runs now, in the view: a
    database that is away or stalls answers like any other request (a 503 to retry), not a
    200 cut short after the header line (its server-side cursor holds every row from then
    on, so only a connection lost while the rows are sent can still cut it)."""
    events = queryset.iterator(chunk_size=CSV_CHUNK)
    first = next(events, None)
    return csv_lines(itertools.chain(() if first is None else (first,), events))


def audit_export_get(*, org: Any, export_id: object) -> AuditExport | None:
    """An export of `org` (the caller checked read:audit_logs there), or None."""
    try:
        export_uuid = uuid.UUID(str(export_id))
    except ValueError:
        return None
    return AuditExport.objects.filter(id=export_uuid, organization=org).first()


ACTIVITY_STEPS = {
    "hour": (TruncHour, timedelta(hours=1)),
    "day": (TruncDay, timedelta(days=1)),
    "week": (TruncWeek, timedelta(weeks=1)),
}


# The least a chart without a `from` covers: 24 hourly buckets, the last one now's hour.
ACTIVITY_MIN_SPAN = timedelta(hours=23)


def activity_step(start: datetime, end: datetime) -> str:
    """Hours under 2 days, days under 4 months, weeks beyond (a chart of at most ~100 bars)."""
    span = end - start
    if span < timedelta(days=2):
        return "hour"
    return "day" if span <= timedelta(days=120) else "week"


def audit_activity(
    *, events: QuerySet[AuditEvent], filters: AuditFilters, now: datetime | None = None
) -> tuple[str, list[tuple[datetime, int]]]:
    """Events over time for the chart: (step, [(bucket start in UTC, count)]), every bucket
    from the filter's start (else the first event, and at least the last 24 hours: one
    bucket alone is no chart) to its end (else now), empty ones at 0.
    One grouped query, plus one for the first event when the filter has no start."""
    end = min(filters.time_to or now or timezone.now(), now or timezone.now())
    start = filters.time_from
    if start is None:
        first = events.order_by("created_at").values_list("created_at", flat=True).first()
        if first is None:
            return "day", []
        start = min(first, end - ACTIVITY_MIN_SPAN)
    start = min(start, end)
    step = activity_step(start, end)
    trunc, delta = ACTIVITY_STEPS[step]
    rows = (
        events.order_by()
        .annotate(bucket=trunc("created_at", tzinfo=UTC))
        .values("bucket")
        .annotate(n=Count("id"))
        .values_list("bucket", "n")
    )
    counts = dict(rows)
    bucket = _truncate(start, step)
    series: list[tuple[datetime, int]] = []
    while bucket <= end and len(series) < 500:
        series.append((bucket, counts.get(bucket, 0)))
        bucket += delta
    return step, series


def _truncate(moment: datetime, step: str) -> datetime:
    moment = moment.astimezone(UTC)
    if step == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday()) if step == "week" else day
