"""Writes of the authorization server: a user's consent to an app, its revocation, and the
revocation of tokens.

An Authorization is the consent record behind the Authorize App screen (SPEC §8): one live row
per (user, app) holding every scope the user allowed. Revoking it kills, in the same
transaction, everything the app holds for that user: access and refresh tokens, ID-token
records and authorization codes not yet redeemed (SPEC §3: effective on the next request).

Revoking any token revokes its whole family (every access and refresh token one grant
started) on every worker, before the revocation is answered (SPEC §10).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.access import access_for
from accounts.models import User
from audit.models import AuditAction
from audit.services import RequestMeta, audit_record
from connected_apps.models import Authorization, ConnectedApp, GrantType
from oauth.issuance import token_event_record
from oauth.models import AccessToken, Grant, IDToken, RefreshToken

AUTHORIZATION_REVOKE_FORBIDDEN = (
    "Only the user who authorized the app or an administrator of their organization can "
    "revoke this authorization."
)


# Rounds of `refresh_tokens_revoke_live`: each catches the tokens rotations committed while
# the previous one waited; one rotation at a time per family, so two suffice, and more are spare.
REVOKE_ROUNDS = 4


def token_families_revoke(families, *, access_tokens: QuerySet | None = None) -> bool:
    """Revoke every refresh token of `families` (ids, or a subquery of them) and delete
    every access token of them, on every worker (SPEC §10); with `access_tokens`, those
    tokens too and any refresh token bound to them. Access tokens of a family are found
    by their own `token_family` and, for tokens issued before every access token had one,
    through the family's refresh tokens. Returns whether anything was still live. The one
    place a family is revoked.

    Refresh tokens are revoked first: a rotation in the family waits on their row locks,
    then finds its token revoked, so no member is issued once the access tokens are read.
    (DOT's fallback for two live members sharing a checksum is not needed here: refresh
    tokens are 256 random bits, oauth.tokens.)"""
    refresh = Q(token_family__in=families)
    access = Q(token_family__in=families) | Q(
        pk__in=RefreshToken.objects.filter(token_family__in=families).values("access_token_id")
    )
    if access_tokens is not None:
        refresh |= Q(access_token__in=access_tokens.values("pk"))
        access |= Q(pk__in=access_tokens.values("pk"))
    with transaction.atomic():
        revoked = refresh_tokens_revoke_live(RefreshToken.objects.filter(refresh))
        deleted = AccessToken.objects.filter(access).revoke()
    return revoked > 0 or deleted > 0


def token_family_revoke(family: uuid.UUID | None) -> bool:
    """`token_families_revoke` for one family (None: nothing to revoke)."""
    return token_families_revoke([family]) if family else False


def refresh_tokens_revoke_live(refresh_tokens: QuerySet[RefreshToken]) -> int:
    """Revoke the live ones of `refresh_tokens` until none is left, and return how many.

    One UPDATE is not enough under PostgreSQL's READ COMMITTED: when it waits on the row
    lock of a refresh in progress, it never sees the refresh token that rotation inserts
    (not in its snapshot), which would stay live. A second statement sees it once the
    rotation committed; from then on the family has no live member a rotation could use
    (it waits on our locks and finds its token revoked). Bounded, for a family refreshed
    in a tight loop."""
    now = timezone.now()
    total = 0
    for round_ in range(REVOKE_ROUNDS):
        revoked = refresh_tokens.filter(revoked__isnull=True).update(revoked=now, updated=now)
        total += revoked
        # The first round may change nothing (the rotation it waited for revoked the old
        # token itself) and still have missed the new one: a second always runs.
        if round_ and not revoked:
            break
    return total


def access_tokens_revoke(*, tokens: QuerySet[AccessToken]) -> bool:
    """Revoke the access tokens `tokens` selects, each with its whole family (SPEC §10): every
    refresh token of the family (or bound to the token) is revoked and every access token of
    it deleted, and no worker trusts what it remembered of them from the next request on.
    Set-wise, a few statements whatever the number of tokens; writes no audit event (the
    caller knows why). Returns whether anything was still live."""
    # Read once, not as a subquery: a rotation in flight deletes the access token it replaces,
    # and a later statement of the revocation must still know the family (revoke_live).
    families = set(tokens.exclude(token_family=None).values_list("token_family", flat=True))
    return token_families_revoke(families, access_tokens=tokens)


def access_token_revoke(
    *, token: AccessToken, reason: str, meta: RequestMeta | None = None
) -> bool:
    """Revoke one access token with its family, everywhere (`access_tokens_revoke`), and
    record TOKEN_REVOKED with `reason` when anything was still live (SPEC §7)."""
    with transaction.atomic():
        live = access_tokens_revoke(tokens=AccessToken.objects.filter(pk=token.pk))
        if live:
            token_event_record(
                action=AuditAction.TOKEN_REVOKED,
                app=token.application,
                user=token.user,
                details={"reason": reason, "token_type": "access_token"},
                meta=meta or RequestMeta(),
            )
    return live


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
            reset_at = app.consent_reset_at
            if reset_at is not None and authorization.updated_at < reset_at:
                # Agreed to before the app's redirect URIs grew: what was agreed then is not
                # carried over by agreeing to something now (it would count as fresh again).
                authorization.scopes = []
            added = sorted(set(requested) - set(authorization.scopes))
            authorization.scopes = sorted(set(authorization.scopes) | set(added))
            # Saved even when nothing was added: `updated_at` is when the user last agreed,
            # which remembered consent is measured against (ConnectedApp.consent_reset_at).
            authorization.save(update_fields=["scopes", "updated_at"])
        audit_record(
            action=AuditAction.AUTHORIZATION_GRANTED,
            organization=user.organization,
            actor=user,
            app=app,
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


def _tokens_sweep(**owner) -> tuple[int, int, int]:
    """Kill everything issued to `owner` (a user or an org's users, for an app), set-wise
    whatever the number of tokens: one statement per table. Refresh tokens are revoked (a
    replay is then refused), access tokens, ID-token records and pending codes deleted.
    Returns (refresh tokens revoked, access tokens deleted, codes deleted)."""
    refresh_tokens = RefreshToken.objects.filter(**owner)
    refresh_revoked = refresh_tokens_revoke_live(refresh_tokens)  # rotations in flight too
    refresh_tokens.filter(access_token__isnull=False).update(access_token=None)
    access_deleted = AccessToken.objects.filter(**owner).revoke()  # on every worker too
    IDToken.objects.filter(**owner).delete()
    codes_deleted, _ = Grant.objects.filter(**owner).delete()
    return refresh_revoked, access_deleted, codes_deleted


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
        refresh_revoked, access_deleted, codes_deleted = _tokens_sweep(user=user, application=app)
        if was_live:
            audit_record(
                action=AuditAction.AUTHORIZATION_REVOKED,
                organization=user.organization,
                actor=actor,
                app=app,
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
            application=app, user__organization=org
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
    """Revoke what a user's password alone obtained, everywhere (SPEC §4, §10): every
    platform token (`POST /accounts/login`), and every token family the user holds with an
    app registered for the password grant (whoever knew the old password may have started
    it, and its refresh tokens live 90 days). Tokens of apps the user authorized through the
    consent screen or an assertion stay: the user revokes those under My apps. Set-wise,
    refused by every worker on its next request. A password change or reset does this
    (accounts.sessions.user_sign_ins_end). Audited as one `token.revoked` event when
    anything was revoked. Returns how many access tokens were revoked."""
    held_app_ids = set(
        RefreshToken.objects.filter(user=user, revoked__isnull=True).values_list(
            "application_id", flat=True
        )
    ) | set(
        AccessToken.objects.filter(user=user, application__isnull=False).values_list(
            "application_id", flat=True
        )
    )
    password_app_ids = [
        app.pk
        for app in ConnectedApp.objects.filter(pk__in=held_app_ids).only("pk", "grant_types")
        if GrantType.PASSWORD in app.grant_types
    ]
    platform = AccessToken.objects.filter(user=user, application__isnull=True)
    with transaction.atomic():
        revoked = (
            platform.count()
            + AccessToken.objects.filter(user=user, application_id__in=password_app_ids).count()
        )
        families = (
            RefreshToken.objects.filter(user=user, application_id__in=password_app_ids)
            .exclude(token_family=None)
            .values("token_family")
        )
        tokens = AccessToken.objects.filter(user=user).filter(
            Q(application__isnull=True) | Q(application_id__in=password_app_ids)
        )
        live = token_families_revoke(families, access_tokens=tokens)
        if live:
            token_event_record(
                action=AuditAction.TOKEN_REVOKED,
                app=None,
                user=user,
                details={
                    "reason": reason,
                    "grant_type": "password",
                    "access_tokens_revoked": revoked,
                },
                meta=meta or RequestMeta(),
            )
    return revoked
