"""Token issuance outside oauthlib, and the audit events of the token endpoints (SPEC §7).

Events: issued, refreshed, revoked, refused. An event names the app (actor_app) and the user
(actor) it concerned, in the app's owner org (or, for a user's own platform token, the user's
org). Details hold the grant type, the error code and scope names, never a secret, token,
code, assertion or password.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from oauth2_provider.models import set_token_value

from accounts.catalog import SpecialScope
from audit.models import AuditAction, AuditEvent, AuditOutcome
from audit.services import RequestMeta, audit_event_values
from core.client_ip import client_ip
from core.db import model_build
from oauth.models import AccessToken
from oauth.tokens import generate_token


def request_meta(headers: Any) -> RequestMeta:
    """Client IP and user agent from Django's META or an oauthlib request's copy of it."""
    headers = headers or {}
    user_agent = headers.get("HTTP_USER_AGENT") or ""
    return RequestMeta(client_ip=client_ip(headers), user_agent=str(user_agent)[:512])


def _organization_id(app: Any, user: Any) -> Any:
    if app is not None:
        return app.owner_org_id
    return user.organization_id if user is not None else None


def token_event_record(**fields: Any) -> None:
    """Append a token event (the arguments of `token_event_build`)."""
    token_event_build(**fields).save(force_insert=True)


def token_event_build(**fields: Any) -> AuditEvent:
    """A token event, not yet saved (the arguments of `token_event_values`)."""
    return model_build(AuditEvent, **token_event_values(**fields))


def token_event_values(
    *,
    action: AuditAction,
    app: Any,
    user: Any,
    details: dict[str, Any],
    meta: RequestMeta,
    outcome: AuditOutcome = AuditOutcome.SUCCESS,
) -> dict[str, Any]:
    """A token event's field values by attname."""
    return audit_event_values(
        action=action,
        organization=None,
        organization_id=_organization_id(app, user),
        actor=user,
        actor_app=app,
        target=app if app is not None else user,
        target_type="connected_app" if app is not None else "user",
        outcome=outcome,
        details=details,
        meta=meta,
    )


def platform_token_issue(*, user: Any, meta: RequestMeta) -> tuple[str, AccessToken]:
    """A user's own platform token (`POST /accounts/login`, SPEC §4): scope `full`, no app,
    the access-token lifetime, stored only as its SHA-256 checksum, a token family of its
    own (SPEC §10). Returns (raw, row)."""
    raw = generate_token()
    token = AccessToken(
        user=user,
        application=None,
        scope=SpecialScope.FULL,
        expires=timezone.now() + timedelta(seconds=settings.DOORMAN_ACCESS_TOKEN_LIFETIME),
        token_family=uuid.uuid4(),
    )
    set_token_value(token, raw)
    with transaction.atomic():
        token.save()
        token_event_record(
            action=AuditAction.TOKEN_ISSUED,
            app=None,
            user=user,
            details={"grant_type": "platform_login", "scope": SpecialScope.FULL},
            meta=meta,
        )
    return raw, token
