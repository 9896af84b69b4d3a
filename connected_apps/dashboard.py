"""The portal's home page, a dashboard per role (issue 16): which dashboard the viewer gets, and
the figures it shows. Reads only, each scoped to what the viewer may read:

- An Organization Administrator sees the org they administer (the topmost one, in tree order)
  and its business groups: its apps, who authorized them, tokens issued and refused, the
  allowlist's pending approvals (a root org's only: the allowlist belongs to it) and the latest
  audit events. A business group's administrator sees that business group, never its root.
- A developer (manage:connected_apps somewhere, not an administrator) sees the usage of the
  apps they manage, and of no other.
- A member holding other permissions sees what they hold where (accounts' access overview).
- Anyone else has nothing to manage: their page is My apps.

Each read costs a fixed number of queries whatever the number of apps or events: figures are
aggregated in the database, usage counters still in the cache are read in one round trip.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, Sum

from accounts.access import Access
from accounts.catalog import Permission
from accounts.models import Organization
from audit.models import AuditAction, AuditEvent
from audit.selectors import AuditFilters, audit_event_list, audit_events_per_day
from connected_apps import controls
from connected_apps.models import AppUsageDay, Authorization, ConnectedApp
from connected_apps.selectors import (
    USAGE_DAYS,
    AppUsage,
    allowlist_candidate_list,
    app_usage_many,
    connected_app_list,
)
from connected_apps.usage import pending_counts

RECENT_EVENTS = 10
DASHBOARD_APPS = 10  # a developer's apps listed, most recently used first


class DashboardRole(enum.StrEnum):
    ADMIN = "admin"
    DEVELOPER = "developer"
    MEMBER = "member"
    END_USER = "end_user"


@dataclass(frozen=True)
class Dashboard:
    role: DashboardRole
    org: Organization | None = None  # the org an administrator's figures are about


def dashboard_for(*, access: Access, tree: list[Organization]) -> Dashboard:
    """Which dashboard the viewer gets. `tree` is the viewer's organization tree
    (accounts.selectors.organization_tree): every org/BG they hold a role or permission in,
    in tree order, so the first one they administer is the topmost."""
    admin_org = next((o for o in tree if access.is_admin_of(o)), None)
    if admin_org is not None:
        return Dashboard(role=DashboardRole.ADMIN, org=admin_org)
    if any(access.can(Permission.MANAGE_CONNECTED_APPS, o) for o in tree):
        return Dashboard(role=DashboardRole.DEVELOPER)
    if tree:
        return Dashboard(role=DashboardRole.MEMBER)
    return Dashboard(role=DashboardRole.END_USER)


# -- tokens per day -------------------------------------------------------------------------------
def usage_days(today: date) -> list[date]:
    """The 30 UTC days of the usage figures, oldest first, ending today."""
    first = today - timedelta(days=USAGE_DAYS - 1)
    return [first + timedelta(days=i) for i in range(USAGE_DAYS)]


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _tokens_per_day(*, org: Organization, app_pks: list[int], days: list[date]) -> list[dict]:
    """Tokens issued to the apps owned in `org` and its BGs, per day: one query for the rolled
    up days, one cache round trip for the counts not rolled up yet (connected_apps.usage)."""
    counts = dict.fromkeys(days, 0)
    for day, issued in (
        AppUsageDay.objects.filter(
            app__owner_org__path__startswith=org.path, day__gte=days[0], day__lte=days[-1]
        )
        .values("day")
        .annotate(issued=Sum("tokens_issued"))
        .values_list("day", "issued")
    ):
        counts[day] += issued
    for (_, day), pending in pending_counts(app_pks, days).items():
        counts[day] += pending
    return [{"date": day.isoformat(), "count": counts[day]} for day in days]


# -- an administrator's figures -------------------------------------------------------------------
@dataclass(frozen=True)
class AllowlistFigures:
    """A root org's allowlist: apps its users authorized that it does not list yet
    (`awaiting_approval`), and listed apps whose scopes changed since they were approved
    (`awaiting_reapproval`). With the allowlist off (`enabled` False) neither is blocked."""

    enabled: bool
    awaiting_approval: int
    awaiting_reapproval: int

    @property
    def pending(self) -> int:
        return self.awaiting_approval + self.awaiting_reapproval


@dataclass(frozen=True)
class OrgFigures:
    org: Organization
    apps_owned: int
    apps_authorized: int  # other tenants' apps the org's users authorized (a root org's only)
    authorized_users: int
    live_authorizations: int
    tokens_issued: list[dict]  # [{"date", "count"}] for 30 days, oldest first
    tokens_refused: list[dict]  # the same days: the org's token.refused audit events
    allowlist: AllowlistFigures | None  # a root org's only
    recent_events: list[AuditEvent]
    first_day: date

    @property
    def apps(self) -> int:
        return self.apps_owned + self.apps_authorized

    @property
    def tokens_today(self) -> int:
        return self.tokens_issued[-1]["count"]

    @property
    def tokens_30_days(self) -> int:
        return sum(d["count"] for d in self.tokens_issued)

    @property
    def refused_today(self) -> int:
        return self.tokens_refused[-1]["count"]

    @property
    def refused_30_days(self) -> int:
        return sum(d["count"] for d in self.tokens_refused)


def _authorization_figures(org: Organization) -> dict[str, int]:
    """Live authorizations a root org's administrator answers for (its people's, of any app:
    the Authorized apps page), or of a business group's apps (the Connected Apps page): the
    people holding them and how many there are. One query."""
    live = Authorization.objects.filter(revoked_at__isnull=True)
    if org.is_root:
        live = live.filter(user__organization=org)
    else:
        live = live.filter(app__owner_org__path__startswith=org.path)
    return live.aggregate(users=Count("user_id", distinct=True), authorizations=Count("pk"))


def _allowlist_figures(org: Organization) -> AllowlistFigures:
    """What the Authorized apps page asks its administrator to approve: five queries."""
    settings = controls.org_settings_get(org=org)
    return AllowlistFigures(
        enabled=settings.enabled and settings.allowlist_enabled,
        awaiting_approval=len(allowlist_candidate_list(org=org)),
        awaiting_reapproval=sum(not row.up_to_date for row in controls.allowlist_list(org=org)),
    )


def org_figures(*, access: Access, org: Organization, today: date) -> OrgFigures:
    """The dashboard figures of `org` and its business groups, for its Organization
    Administrator only (PermissionDenied otherwise): a fixed number of queries."""
    if not access.is_admin_of(org):
        raise PermissionDenied(f"Only an Organization Administrator of {org.name} sees this.")
    days = usage_days(today)
    owned = list(
        ConnectedApp.objects.filter(owner_org__path__startswith=org.path).values_list(
            "pk", flat=True
        )
    )
    foreign = 0
    if org.is_root:
        foreign = (
            ConnectedApp.objects.filter(
                authorizations__revoked_at__isnull=True, authorizations__user__organization=org
            )
            .exclude(root_org=org)
            .distinct()
            .count()
        )
    authorizations = _authorization_figures(org)
    refused = audit_events_per_day(
        audit_event_list(
            org=org,
            filters=AuditFilters(action=AuditAction.TOKEN_REFUSED, time_from=day_start(days[0])),
        )
    )
    recent: list[AuditEvent] = []
    if access.can(Permission.READ_AUDIT_LOGS, org):
        recent = list(audit_event_list(org=org, filters=AuditFilters())[:RECENT_EVENTS])
    return OrgFigures(
        org=org,
        apps_owned=len(owned),
        apps_authorized=foreign,
        authorized_users=authorizations["users"],
        live_authorizations=authorizations["authorizations"],
        tokens_issued=_tokens_per_day(org=org, app_pks=owned, days=days),
        tokens_refused=[{"date": day.isoformat(), "count": refused.get(day, 0)} for day in days],
        allowlist=_allowlist_figures(org) if org.is_root else None,
        recent_events=recent,
        first_day=days[0],
    )


# -- a developer's figures ------------------------------------------------------------------------
@dataclass(frozen=True)
class AppUsageRow:
    app: ConnectedApp
    usage: AppUsage

    @property
    def tokens_today(self) -> int:
        return self.usage.tokens_issued[-1]["count"]

    @property
    def tokens_30_days(self) -> int:
        return sum(d["count"] for d in self.usage.tokens_issued)


@dataclass(frozen=True)
class DeveloperFigures:
    apps: int
    rows: list[AppUsageRow]  # the DASHBOARD_APPS most recently used
    tokens_issued: list[dict]  # all their apps together, 30 days, oldest first

    @property
    def tokens_today(self) -> int:
        return self.tokens_issued[-1]["count"] if self.tokens_issued else 0

    @property
    def tokens_30_days(self) -> int:
        return sum(d["count"] for d in self.tokens_issued)


def developer_figures(*, access: Access, today: date) -> DeveloperFigures:
    """Usage of the apps the viewer manages (manage:connected_apps in the owner org), and of
    no other: four queries and one cache round trip, whatever the number of apps."""
    apps = list(
        connected_app_list(access=access).order_by(
            F("last_used_at").desc(nulls_last=True), "name", "client_id"
        )
    )
    usage = app_usage_many(apps=apps, today=today)
    days = usage_days(today)
    totals = [0] * len(days)
    for figures in usage.values():
        for index, day in enumerate(figures.tokens_issued):
            totals[index] += day["count"]
    return DeveloperFigures(
        apps=len(apps),
        rows=[AppUsageRow(app=app, usage=usage[app.pk]) for app in apps[:DASHBOARD_APPS]],
        tokens_issued=[
            {"date": day.isoformat(), "count": count}
            for day, count in zip(days, totals, strict=True)
        ],
    )
