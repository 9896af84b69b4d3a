"""Writes of the authorization server: a user's consent to an app, and its revocation.

An Authorization is the consent record behind the Authorize App screen (SPEC §8): one live row
per (user, app) holding every scope the user allowed. Revoking it kills, in the same
transaction, everything the app holds for that user: access and refresh tokens, ID-token
records and authorization codes not yet redeemed (SPEC §3: effective on the next request).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.access import access_for
from accounts.models import User
from audit.models import AuditAction
from audit.services import RequestMeta, audit_record
from connected_apps.models import Authorization, ConnectedApp
from oauth.issuance import token_event_record
from oauth.models import AccessToken, Grant, IDToken, RefreshToken
from oauth.principal_cache import principals_invalidate

AUTHORIZATION_REVOKE_FORBIDDEN = (
    "Only the user who authorized the app or an administrator of their organization can "
    "revoke this authorization."
)


def _live_authorization_for_update(*, user: User, app: ConnectedApp) -> Authorization | None:
    return (
        Authorization.objects.select_for_update()
        .filter(user=user, app=app, revoked_at__isnull=True)
        .first()
    )


def authorization_grant(
    *,
    user: User,
    app: ConnectedApp,
    scopes: Iterable[str],
    meta: RequestMeta | None = None,
) -> Authorization:
    """Record that `user` allowed `app` the `scopes` (Allow on the consent screen).

    Invariant: afterwards the user's one live Authorization for the app covers `scopes` and
    every scope it covered before; consent is only ever extended here, never narrowed.
    """
    requested = sorted(set(scopes))
    with transaction.atomic():
        authorization = _live_authorization_for_update(user=user, app=app)
        if authorization is None:
            try:
                with transaction.atomic():
                    authorization = Authorization.objects.create(
                        user=user, app=app, scopes=requested
                    )
                added = requested
            except IntegrityError:
                # A concurrent Allow created the live row first (one live row per user/app).
                authorization = _live_authorization_for_update(user=user, app=app)
                if authorization is None:
                    raise
                added = None
        else:
            added = None
        if added is None:
            added = sorted(set(requested) - set(authorization.scopes))
            if added:
                authorization.scopes = sorted(set(authorization.scopes) | set(added))
                authorization.save(update_fields=["scopes", "updated_at"])
        audit_record(
            action=AuditAction.AUTHORIZATION_GRANTED,
            organization=user.organization,
            actor=user,
            target=authorization,
            target_type="authorization",
            details={
                "client_id": app.client_id,
                "client_name": app.name,
                "scopes": requested,
                "added_scopes": added,
            },
            meta=meta,
        )
    return authorization


def _tokens_sweep(now, **owner) -> tuple[int, int, int]:
    """Kill everything issued to `owner` (a user or an org's users, for an app), set-wise
    whatever the number of tokens: one statement per table. Refresh tokens are revoked (a
    replay is then refused), access tokens, ID-token records and pending codes deleted.
    Returns (refresh tokens revoked, access tokens deleted, codes deleted)."""
    refresh_tokens = RefreshToken.objects.filter(**owner)
    refresh_revoked = refresh_tokens.filter(revoked__isnull=True).update(revoked=now, updated=now)
    refresh_tokens.filter(access_token__isnull=False).update(access_token=None)
    _, deleted = AccessToken.objects.filter(**owner).delete()
    principals_invalidate()
    IDToken.objects.filter(**owner).delete()
    codes_deleted, _ = Grant.objects.filter(**owner).delete()
    return refresh_revoked, deleted.get(AccessToken._meta.label, 0), codes_deleted


def authorization_revoke(
    *,
    actor: User,
    authorization: Authorization,
    meta: RequestMeta | None = None,
) -> Authorization:
    """Revoke a user's consent to an app and everything issued under it.

    The user themself or an Organization Administrator of the user's organization may do it.
    Afterwards no access token of that user for that app exists, every refresh token is
    revoked (a replay is refused and, with reuse protection, changes nothing) and no pending
    authorization code can be redeemed. Idempotent: revoking a revoked row only re-sweeps.
    """
    user, app = authorization.user, authorization.app
    if actor.pk != user.pk and not access_for(actor).is_admin_of(user.organization):
        raise PermissionDenied(AUTHORIZATION_REVOKE_FORBIDDEN)
    now = timezone.now()
    with transaction.atomic():
        locked = Authorization.objects.select_for_update().get(pk=authorization.pk)
        was_live = locked.revoked_at is None
        if was_live:
            locked.revoked_at = now
            locked.save(update_fields=["revoked_at", "updated_at"])
        refresh_revoked, access_deleted, codes_deleted = _tokens_sweep(
            now, user=user, application=app
        )
        if was_live:
            audit_record(
                action=AuditAction.AUTHORIZATION_REVOKED,
                organization=user.organization,
                actor=actor,
                target=locked,
                target_type="authorization",
                details={
                    "client_id": app.client_id,
                    "client_name": app.name,
                    "user_id": str(user.pk),
                    "scopes": list(locked.scopes),
                    "access_tokens_deleted": access_deleted,
                    "refresh_tokens_revoked": refresh_revoked,
                    "codes_deleted": codes_deleted,
                },
                meta=meta,
            )
    authorization.revoked_at = locked.revoked_at
    return authorization


def authorizations_revoke_for_org(
    *,
    access,
    org,
    app: ConnectedApp,
    meta: RequestMeta | None = None,
) -> int:
    """Revoke `app` for every user of the root org `org` (SPEC §6 Revoke): what
    `authorization_revoke` does for one user, set-wise, one statement per table whatever the
    number of users. The caller (connected_apps.controls) has checked that `access` is an
    administrator of `org`. Returns how many live authorizations were revoked."""
    if not access.is_admin_of(org):
        raise PermissionDenied(AUTHORIZATION_REVOKE_FORBIDDEN)
    now = timezone.now()
    with transaction.atomic():
        authorizations = Authorization.objects.filter(
            app=app, user__organization=org, revoked_at__isnull=True
        )
        user_ids = list(authorizations.values_list("user_id", flat=True))
        revoked = Authorization.objects.filter(
            pk__in=authorizations.values_list("pk", flat=True)
        ).update(revoked_at=now, updated_at=now)
        refresh_revoked, deleted, codes_deleted = _tokens_sweep(
            now, application=app, user__organization=org
        )
        audit_record(
            action=AuditAction.AUTHORIZATIONS_REVOKED_FOR_ORG,
            organization=org,
            target=app,
            target_type="connected_app",
            details={
                "client_id": app.client_id,
                "client_name": app.name,
                "users": len(user_ids),
                "authorizations_revoked": revoked,
                "access_tokens_deleted": deleted,
                "refresh_tokens_revoked": refresh_revoked,
                "codes_deleted": codes_deleted,
            },
            meta=meta,
            **access.audit_actor,
        )
    return revoked


def platform_tokens_revoke(*, user: User, reason: str, meta: RequestMeta | None = None) -> int:
    """Revoke every platform token (`POST /accounts/login`) of `user`, set-wise: one DELETE
    whatever their number, and every worker distrusts what it remembered of any token on its
    next request (a new principals generation, as `_tokens_sweep`). A password change or
    reset does this (SPEC §4; accounts.sessions.user_sign_ins_end). Audited as one
    `token.revoked` event when there was anything to revoke. Returns how many were revoked."""
    with transaction.atomic():
        _, deleted = AccessToken.objects.filter(user=user, application__isnull=True).delete()
        revoked = deleted.get(AccessToken._meta.label, 0)
        if revoked:
            principals_invalidate()
            token_event_record(
                action=AuditAction.TOKEN_REVOKED,
                app=None,
                user=user,
                details={
                    "reason": reason,
                    "grant_type": "platform_login",
                    "access_tokens_revoked": revoked,
                },
                meta=meta or RequestMeta(),
            )
    return revoked
