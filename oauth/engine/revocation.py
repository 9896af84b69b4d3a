"""Token revocation at the revocation endpoint (RFC 7009 §2.1; SPEC §10): only the calling
app's tokens; whichever token is named, its whole family goes with it (every access and
refresh token its grant started), on every worker; a client_credentials token, which has no
family, goes alone. The hint is only a hint: both kinds are looked up."""

from __future__ import annotations

from django.db.models import F

from audit.models import AuditAction
from audit.services import RequestMeta
from connected_apps.models import ConnectedApp
from oauth.engine.credentials import token_digest
from oauth.issuance import token_event_record
from oauth.models import AccessToken, RefreshToken
from oauth.services import access_tokens_revoke, token_family_revoke


def token_revoke_requested(*, app: ConnectedApp, raw: str, meta: RequestMeta) -> None:
    """Revoke the token `raw` of `app` with its family, and record it when anything was
    still live. Unknown tokens, and other apps' tokens, are ignored (RFC 7009 §2.2)."""
    lookup = {"token_checksum": token_digest(raw), "application_id": app.pk}
    named = (
        RefreshToken.objects.filter(**lookup)
        .select_related("user")
        .order_by(F("revoked").desc(nulls_first=True))
        .first()
    )
    token_type = "refresh_token"  # noqa: S105 (a token type, not a secret)
    if named is None:
        named = AccessToken.objects.filter(**lookup).select_related("user").first()
        token_type = "access_token"  # noqa: S105
    if named is None:
        return
    if isinstance(named, AccessToken):
        live = access_tokens_revoke(tokens=AccessToken.objects.filter(pk=named.pk))
    elif named.token_family:
        live = token_family_revoke(named.token_family)
    else:  # DOT gives every refresh token a family; this one predates that
        live = named.revoked is None
        named.revoke()
    if live:
        token_event_record(
            action=AuditAction.TOKEN_REVOKED,
            app=app,
            user=named.user,
            details={"reason": "revocation_request", "token_type": token_type},
            meta=meta,
        )
