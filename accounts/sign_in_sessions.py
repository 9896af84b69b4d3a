"""Where a user is signed in (SPEC §11): their portal sessions, each with when and from where
it signed in, and ending one or all of them.

Each session row is stored under the digest of its key (accounts.sessions), so the digest is
the session's id here: it names the row and works as no cookie. Ending every session also
revokes the user's platform tokens (`user_sign_ins_end`); ending one ends that browser's
sign-in only. Both are audited.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.http import Http404, HttpRequest
from django.utils import timezone

from accounts.models import PortalSession, User
from accounts.sessions import SessionStore, session_key_digest, user_sign_ins_end
from accounts.user_agents import user_agent_summary
from audit.models import AuditAction
from audit.services import RequestMeta, audit_record

SIGNED_IN_FROM = "doorman_signed_in_from"  # the session's own record of its sign-in
SIGN_INS_END_BY_USER = "signed_out_everywhere"
SESSION_NOT_FOUND = "No such session."


@dataclass(frozen=True)
class SignInSession:
    id: str
    signed_in_at: datetime | None
    expires_at: datetime
    ip: str
    user_agent: str
    current: bool

    @property
    def browser(self) -> str:
        """The user agent, readably: "Chrome 131 on Linux"."""
        return user_agent_summary(self.user_agent)


def sign_in_client_recorded(sender, request: HttpRequest | None, user, **kwargs) -> None:
    """On sign-in (Django's user_logged_in): when and from where, kept in the session."""
    if request is None or not hasattr(request, "session"):
        return
    meta = RequestMeta.from_request(request)
    request.session[SIGNED_IN_FROM] = {
        "at": time.time(),
        "ip": meta.client_ip,
        "user_agent": meta.user_agent[:256],
    }


def user_sessions(*, user: User, current_key: str | None) -> list[SignInSession]:
    """The user's live portal sessions, the most recent sign-in first."""
    current = session_key_digest(current_key) if current_key else None
    found = []
    rows = PortalSession.objects.filter(user=user, expire_date__gt=timezone.now())
    for row in rows:
        facts = SessionStore().decode(row.session_data).get(SIGNED_IN_FROM) or {}
        at = facts.get("at")
        found.append(
            SignInSession(
                id=row.session_key,
                signed_in_at=datetime.fromtimestamp(at, tz=UTC) if at else None,
                expires_at=row.expire_date,
                ip=facts.get("ip", ""),
                user_agent=facts.get("user_agent", ""),
                current=row.session_key == current,
            )
        )
    epoch = datetime.min.replace(tzinfo=UTC)
    return sorted(found, key=lambda s: s.signed_in_at or epoch, reverse=True)


def user_session_end(*, user: User, session_id: str, meta: RequestMeta | None = None) -> None:
    """End one of the user's sessions (404 for anything else)."""
    ended, _ = PortalSession.objects.filter(user=user, session_key=session_id).delete()
    if not ended:
        raise Http404(SESSION_NOT_FOUND)
    audit_record(
        action=AuditAction.SESSION_ENDED,
        organization=user.organization,
        actor=user,
        target=user,
        details={"sessions": 1},
        meta=meta,
    )


def user_sessions_end_all(*, user: User, meta: RequestMeta | None = None) -> int:
    """End every session of the user, this one included, and revoke their platform tokens."""
    ended = user_sign_ins_end(user=user, reason=SIGN_INS_END_BY_USER)
    audit_record(
        action=AuditAction.SESSION_ENDED,
        organization=user.organization,
        actor=user,
        target=user,
        details={"sessions": ended, "everywhere": True},
        meta=meta,
    )
    return ended
