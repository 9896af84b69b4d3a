"""Recording audit events. Called by every other app's services, inside their transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction

from audit.models import AuditAction, AuditEvent, AuditExport, AuditOutcome
from audit.tasks import audit_export_queue, audit_export_run
from core.client_ip import client_ip as request_client_ip
from core.db import model_build


@dataclass(frozen=True)
class RequestMeta:
    """Where a change came from: client IP and user agent, as the audit trail records them."""

    client_ip: str | None = None
    user_agent: str = ""

    @classmethod
    def from_request(cls, request: Any) -> RequestMeta:
        if request is None:
            return cls()
        return cls(
            client_ip=request_client_ip(request),
            user_agent=(request.META.get("HTTP_USER_AGENT") or "")[:512],
        )


def audit_event_build(**fields: Any) -> AuditEvent:
    """One event, not yet saved (for a caller inserting it together with other rows); the
    arguments of `audit_event_values`."""
    return model_build(AuditEvent, **audit_event_values(**fields))


def audit_event_values(
    *,
    action: AuditAction,
    organization: Any | None,
    actor: Any | None,
    actor_app: Any | None = None,
    app: Any | None = None,
    target: Any | None = None,
    target_type: str = "",
    outcome: AuditOutcome = AuditOutcome.SUCCESS,
    details: dict[str, Any] | None = None,
    meta: RequestMeta | None = None,
    organization_id: Any | None = None,
) -> dict[str, Any]:
    """An event's field values by attname (the token engine inserts them as they are).
    `details` must never contain a secret, a token or a password. The org may be given by
    its id alone (the token path has it without loading the row). `app` is the connected
    app the event is about when the target is not the app itself (an allowlist entry, a
    user's authorization): with the acting app, it puts the event in the app's history."""
    meta = meta or RequestMeta()
    return {
        "action": str(action),
        "outcome": str(outcome),
        "organization_id": organization.pk if organization is not None else organization_id,
        "actor_user_id": actor.pk if actor is not None else None,
        "actor_client_id": actor_app.client_id if actor_app is not None else "",
        "subject_client_id": _subject_client_id(app=app, target=target, actor_app=actor_app),
        "actor_name": (
            actor.username if actor is not None else (actor_app.name if actor_app else "")
        ),
        "target_type": target_type or (target._meta.model_name if target is not None else ""),
        "target_id": str(target.pk) if target is not None else "",
        "client_ip": meta.client_ip,
        "user_agent": meta.user_agent,
        "details": details or {},
    }


def _subject_client_id(*, app: Any, target: Any, actor_app: Any) -> str | None:
    """The client_id of the app an event is about (`app`, else a target that is an app),
    or None when there is none or it is the acting app, which actor_client_id names already:
    a token event (the app is its own target) costs the token path no index entry."""
    if app is None and target is not None and target is not actor_app:
        meta = getattr(target, "_meta", None)
        if meta is not None and meta.label == settings.OAUTH2_PROVIDER_APPLICATION_MODEL:
            app = target
    if app is None or (actor_app is not None and app.client_id == actor_app.client_id):
        return None
    return app.client_id


def audit_record(**fields: Any) -> AuditEvent:
    """Append one event (the arguments of `audit_event_build`)."""
    event = audit_event_build(**fields)
    event.save(force_insert=True)
    return event


def audit_export_start(*, org: Any, user: Any, filters: Any) -> AuditExport:
    """Create a background CSV export of `org`'s events (the caller checked read:audit_logs)
    and queue it once the transaction commits."""
    export = AuditExport.objects.create(
        organization=org, requested_by=user, filters=filters.as_params()
    )
    transaction.on_commit(lambda: audit_export_queue(audit_export_run, str(export.id)))
    return export
