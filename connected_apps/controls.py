"""Org controls over connected apps (SPEC §6): the feature switch, the allowlist and revoking an
app for a whole org. Services (writes) and selectors (reads) of one small area, together.

Decisions:
- Settings and the allowlist belong to a **root** org (its users are the ones governed); a
  business group's id answers 404, as for any org the caller cannot see.
- Apps owned by the org itself (any BG of its tree) are implicitly allowed: as in Anypoint, the
  allowlist governs third-party access. The feature switch governs every app: the org's users'
  tokens of any app, and the client_credentials tokens of the org's own apps.
- Switching the feature off revokes nothing: while off, no token of the org's users works
  (checked on every request) and none is issued. Switching it back on lets tokens that are
  still unexpired and unrevoked work again; nothing that was revoked comes back.
- Removing an app from the allowlist, likewise, stops its tokens for the org's users at once
  without revoking them; an admin who wants them gone uses *Revoke for the whole org*.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Max
from django.http import Http404
from django.utils import timezone

from accounts.access import Access
from accounts.catalog import Permission, SpecialScope
from accounts.models import Organization, User
from accounts.selectors import root_org_administered
from audit.models import AuditAction
from audit.services import RequestMeta, audit_record
from connected_apps.models import (
    AllowlistEntry,
    AppScope,
    Audience,
    Authorization,
    ConnectedApp,
    OrgAppSettings,
)

FEATURE_DISABLED = "Connected apps are disabled for your organization."
FEATURE_DISABLED_FOR_OWNER = "Connected apps are disabled for the organization that owns this app."
APP_NOT_ALLOWLISTED = "Your organization has not approved this app."
SCOPES_NOT_APPROVED = "Your organization has not approved these scopes for this app: {scopes}."
SCOPES_NONE_APPROVED = "Your organization has approved none of this app's default scopes."
NOT_ADMIN = "Only an Organization Administrator of {org} can manage its connected apps controls."
SCOPE_MISSING = "This token needs manage:connected_apps (or full) for org controls."
NOT_ROOT_ORG = "Connected apps controls belong to a root organization."
APP_NOT_FOUND = "Connected app not found."
NOT_ALLOWLISTED = "This app is not on the allowlist."
APP_NOT_SERVING_ORG = "This app is only available to members of the organization that owns it."
APPROVAL_SCOPES_CHANGED = (
    "The app's scopes changed since you reviewed them: review the new scopes and approve again."
)


# -- the check every token and /authorize request makes ------------------------------------------
@dataclass(frozen=True)
class OrgGate:
    """What a user's root org allows an app: a refusal, or a limit on scopes (None: none)."""

    refusal: str | None = None
    approved_scopes: frozenset[str] | None = None


OPEN = OrgGate()


CONTROLS_WIDEN_NEED_FULL = (
    "Switching connected apps on or the allowlist off needs a session or a full token."
)
APPROVAL_SCOPE_NOT_HELD = "You can only approve scopes you hold yourself: {scope}."


def org_gate(*, user: User, app: ConnectedApp) -> OrgGate:
    """The org controls for `user` using `app`: at most two primary-key/unique-index reads (the
    settings row, then the allowlist entry only when the allowlist is on for a foreign app)."""
    org_id = user.organization_id
    row = (
        OrgAppSettings.objects.filter(organization_id=org_id)
        .values_list("enabled", "allowlist_enabled")
        .first()
    )
    approved = None
    if row is not None and all(row) and app.root_org_id != org_id:
        approved = (
            AllowlistEntry.objects.filter(organization_id=org_id, app_id=app.pk)
            .values_list("approved_scopes", flat=True)
            .first()
        )
    return org_gate_decide(app=app, org_id=org_id, switches=row, approved=approved)


def org_gate_decide(
    *,
    app: ConnectedApp,
    org_id: object,
    switches: tuple[bool, bool] | None,
    approved: Iterable[str] | None,
) -> OrgGate:
    """The org controls' rule, on facts already read: `switches` is the user's root org's
    (enabled, allowlist_enabled), None without a settings row; `approved` the scopes its
    allowlist entry for `app` approves, None without one."""
    if switches is None:
        return OPEN
    enabled, allowlist_enabled = switches
    if not enabled:
        return OrgGate(refusal=FEATURE_DISABLED, approved_scopes=frozenset())
    if not allowlist_enabled or app.root_org_id == org_id:
        return OPEN
    if approved is None:
        return OrgGate(refusal=APP_NOT_ALLOWLISTED, approved_scopes=frozenset())
    return OrgGate(approved_scopes=frozenset(approved))


def org_apps_enabled(*, org_id: object) -> bool:
    """Whether a root org has connected apps switched on (one primary-key read)."""
    enabled = (
        OrgAppSettings.objects.filter(organization_id=org_id)
        .values_list("enabled", flat=True)
        .first()
    )
    return enabled is not False


def org_check(
    *,
    user: User,
    app: ConnectedApp,
    scopes: Iterable[str] | None = None,
    gate: OrgGate | None = None,
) -> OrgGate:
    """The org's gate for the app (`gate`, when already decided), refusing `scopes` (when
    given) outside the approved set."""
    gate = gate if gate is not None else org_gate(user=user, app=app)
    if gate.refusal or scopes is None or gate.approved_scopes is None:
        return gate
    outside = sorted(set(scopes) - gate.approved_scopes)
    if outside:
        return OrgGate(SCOPES_NOT_APPROVED.format(scopes=" ".join(outside)), gate.approved_scopes)
    return gate


# -- who may manage the controls ---------------------------------------------------------------
def controlled_org_get(*, access: Access, org_id: object, write: bool = False) -> Organization:
    """The root org `org_id` whose controls the caller administers. 404 outside the caller's
    tenant or for a business group; 403 unless Organization Administrator there (and, for a
    bearer token, holding manage:connected_apps, or read:full for reads)."""
    org = root_org_administered(
        access=access, org_id=org_id, not_root=NOT_ROOT_ORG, not_admin=NOT_ADMIN
    )
    scopes = access.scopes  # None for a session
    read_only_ok = not write and scopes is not None and SpecialScope.READ_FULL in scopes
    if not (access.scope_allows(Permission.MANAGE_CONNECTED_APPS) or read_only_ok):
        raise PermissionDenied(SCOPE_MISSING)
    return org


# -- settings ----------------------------------------------------------------------------------
def org_settings_get(*, org: Organization) -> OrgAppSettings:
    """The org's settings; the defaults (unsaved) when it never changed them."""
    return OrgAppSettings.objects.filter(organization=org).first() or OrgAppSettings(
        organization=org
    )


def org_settings_update(
    *,
    access: Access,
    org: Organization,
    enabled: bool | None = None,
    allowlist_enabled: bool | None = None,
    meta: RequestMeta | None = None,
) -> OrgAppSettings:
    """Change the feature switch and/or the allowlist toggle. Takes effect on every user's
    next request (remembered token resolutions are dropped). Audited with the values before
    and after."""
    for name, value in (("enabled", enabled), ("allowlist_enabled", allowlist_enabled)):
        if value is not None and not isinstance(value, bool):
            raise ValidationError({name: "Must be true or false."})
    with transaction.atomic():
        settings, _ = OrgAppSettings.objects.select_for_update().get_or_create(organization=org)
        before = {"enabled": settings.enabled, "allowlist_enabled": settings.allowlist_enabled}
        widens = (enabled is True and not settings.enabled) or (
            allowlist_enabled is False and settings.allowlist_enabled
        )
        if widens and not access.holds_everything_in(org):
            # SPEC §10: opening the org to apps confers what they may get from its users;
            # closing it (a kill switch, the allowlist on) needs only the role.
            raise PermissionDenied(CONTROLS_WIDEN_NEED_FULL)
        if enabled is not None:
            settings.enabled = enabled
        if allowlist_enabled is not None:
            settings.allowlist_enabled = allowlist_enabled
        settings.updated_by = access.user
        settings.save()
        after = {"enabled": settings.enabled, "allowlist_enabled": settings.allowlist_enabled}
        audit_record(
            action=AuditAction.ORG_APPS_SETTINGS_CHANGED,
            organization=org,
            target=org,
            target_type="organization",
            details={"before": before, "after": after},
            meta=meta,
            **access.audit_actor,
        )
    return settings


# -- allowlist ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class AllowlistRow:
    entry: AllowlistEntry
    current_scopes: list[str]

    @property
    def added_scopes(self) -> list[str]:
        """Scopes the app holds now that were not approved (its users cannot get them)."""
        return sorted(set(self.current_scopes) - set(self.entry.approved_scopes))

    @property
    def removed_scopes(self) -> list[str]:
        return sorted(set(self.entry.approved_scopes) - set(self.current_scopes))

    @property
    def up_to_date(self) -> bool:
        return not self.added_scopes and not self.removed_scopes


def allowlist_list(*, org: Organization) -> list[AllowlistRow]:
    """The org's allowlist with each app's current scopes: two queries, whatever its length."""
    entries = list(
        AllowlistEntry.objects.filter(organization=org)
        .select_related("app", "app__owner_org", "approved_by")
        .order_by("app__name", "pk")
    )
    current: dict[int, set[str]] = defaultdict(set)
    for app_id, scope in AppScope.objects.filter(
        app_id__in=[e.app_id for e in entries]
    ).values_list("app_id", "scope"):
        current[app_id].add(scope)
    return [AllowlistRow(entry=e, current_scopes=sorted(current[e.app_id])) for e in entries]


def app_for_org_find(*, org: Organization, client_id: str) -> ConnectedApp | None:
    """An app that can serve the org's users (its own, or another tenant's `everyone` app), or
    None: one query."""
    app = ConnectedApp.objects.filter(client_id=client_id).select_related("owner_org").first()
    if app is None or (app.root_org_id != org.id and app.audience != Audience.EVERYONE):
        return None
    return app


def _app_for_org(*, org: Organization, client_id: object) -> ConnectedApp:
    if not isinstance(client_id, str) or not client_id or len(client_id) > 100:
        raise ValidationError({"client_id": "A client_id is required."})
    app = app_for_org_find(org=org, client_id=client_id)
    if app is None:
        raise Http404(APP_NOT_FOUND)
    return app


def allowlist_approve(
    *,
    access: Access,
    org: Organization,
    client_id: object,
    expected_scopes: Iterable[str] | None = None,
    meta: RequestMeta | None = None,
) -> AllowlistRow:
    """Approve (or re-approve) the app's CURRENT scope set for the org's users. SPEC §10: the
    approval confers those scopes on the app for every user of the org, so the approver must
    hold each of them (`full`/`read:full`: a session or a `full` token). `expected_scopes`,
    when given, is the set the approver was shown: a different current set is refused
    (APPROVAL_SCOPES_CHANGED) rather than approved unseen."""
    app = _app_for_org(org=org, client_id=client_id)
    scopes = sorted(set(AppScope.objects.filter(app=app).values_list("scope", flat=True)))
    if expected_scopes is not None and set(expected_scopes) != set(scopes):
        raise ValidationError({"scopes": APPROVAL_SCOPES_CHANGED})
    for scope in scopes:
        if scope in (SpecialScope.FULL, SpecialScope.READ_FULL):
            held = access.holds_everything_in(org)
        else:
            held = scope not in Permission.values or access.can(Permission(scope), org)
        if not held:
            raise PermissionDenied(APPROVAL_SCOPE_NOT_HELD.format(scope=scope))
    with transaction.atomic():
        entry, created = AllowlistEntry.objects.select_for_update().get_or_create(
            organization=org,
            app=app,
            defaults={
                "approved_scopes": scopes,
                "approved_at": timezone.now(),
                "approved_by": access.user,
            },
        )
        previous = None if created else list(entry.approved_scopes)
        if not created:
            entry.approved_scopes = scopes
            entry.approved_at = timezone.now()
            entry.approved_by = access.user
            entry.save()
        audit_record(
            action=AuditAction.ALLOWLIST_APPROVED,
            organization=org,
            app=app,
            target=entry,
            target_type="allowlist_entry",
            details={
                "client_id": app.client_id,
                "client_name": app.name,
                "approved_scopes": scopes,
                "previous_scopes": previous,
            },
            meta=meta,
            **access.audit_actor,
        )
    return AllowlistRow(entry=entry, current_scopes=scopes)


def allowlist_remove(
    *, access: Access, org: Organization, client_id: str, meta: RequestMeta | None = None
) -> None:
    """Take the app off the org's allowlist (404 when it is not on it)."""
    with transaction.atomic():
        entry = (
            AllowlistEntry.objects.select_for_update()
            .select_related("app")
            .filter(organization=org, app__client_id=client_id)
            .first()
        )
        if entry is None:
            raise Http404(NOT_ALLOWLISTED)
        audit_record(
            action=AuditAction.ALLOWLIST_REMOVED,
            organization=org,
            app=entry.app,
            target=entry,
            target_type="allowlist_entry",
            details={
                "client_id": entry.app.client_id,
                "client_name": entry.app.name,
                "approved_scopes": list(entry.approved_scopes),
            },
            meta=meta,
            **access.audit_actor,
        )
        entry.delete()


# -- apps the org's users authorized -----------------------------------------------------------
@dataclass(frozen=True)
class AuthorizedApp:
    app: ConnectedApp
    users: int
    scopes: list[str]
    last_used_at: datetime | None


def authorized_app_list(*, org: Organization) -> list[AuthorizedApp]:
    """Apps the org's users hold live authorizations for, by name: three queries in all."""
    live = Authorization.objects.filter(revoked_at__isnull=True, user__organization=org)
    figures = {
        row["app_id"]: row
        for row in live.order_by()
        .values("app_id")
        .annotate(users=Count("user_id", distinct=True), last_used=Max("last_used_at"))
    }
    scopes: dict[int, set[str]] = defaultdict(set)
    for app_id, granted in live.values_list("app_id", "scopes"):
        scopes[app_id].update(granted or [])
    apps = ConnectedApp.objects.filter(pk__in=figures).select_related("owner_org")
    return [
        AuthorizedApp(
            app=app,
            users=figures[app.pk]["users"],
            scopes=sorted(scopes[app.pk]),
            last_used_at=figures[app.pk]["last_used"],
        )
        for app in apps.order_by("name", "client_id")
    ]


def authorized_app_get(*, org: Organization, client_id: str) -> AuthorizedApp:
    """One app the org's users authorized; 404 when none of them did."""
    for row in authorized_app_list(org=org):
        if row.app.client_id == client_id:
            return row
    raise Http404(APP_NOT_FOUND)
