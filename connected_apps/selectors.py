"""Reads of connected apps, scoped by the caller's Access.

An app of another tenant does not exist for the caller (404); an app of their own tenant that
they may not manage is refused (403).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone
from oauth2_provider.models import get_access_token_model

from accounts.access import Access
from accounts.catalog import ALL_SCOPES, Permission
from accounts.models import Environment, Organization
from audit.selectors import token_refusals_per_day
from connected_apps.controls import app_for_org_find
from connected_apps.models import (
    AllowlistEntry,
    AppScope,
    AppUsageDay,
    Audience,
    Authorization,
    ConnectedApp,
)
from connected_apps.usage import ROLLUP_DAYS, pending_counts

# The usage figures reach back as far as the daily counters are kept (connected_apps.usage).
USAGE_DAYS = ROLLUP_DAYS
USAGE_DAYS_INVALID = (
    f"Choose a whole number of days from 1 to {USAGE_DAYS}: usage is kept for {USAGE_DAYS} days."
)


def _managed_org_ids(access: Access) -> list:
    root_id = access.root_org_id
    orgs = Organization.objects.filter(Q(id=root_id) | Q(root_id=root_id))
    return [o.id for o in orgs if access.can(Permission.MANAGE_CONNECTED_APPS, o)]


def connected_app_list(
    *, access: Access, search: str = "", owner: Organization | None = None
) -> QuerySet[ConnectedApp]:
    """Apps the caller administers (manage:connected_apps in the owner org), by name."""
    org_ids = _managed_org_ids(access)
    if owner is not None:
        if not access.in_tenant(owner):
            raise Http404("Organization not found.")
        access.require(Permission.MANAGE_CONNECTED_APPS, owner)
        org_ids = [owner.id]
    apps = ConnectedApp.objects.filter(owner_org_id__in=org_ids).select_related("owner_org")
    if search:
        search = search.replace("\x00", "")
        apps = apps.filter(Q(name__icontains=search) | Q(client_id__iexact=search))
    return apps.order_by("name", "client_id")


def connected_app_get(
    *, access: Access, client_id: str, owner: Organization | None = None
) -> ConnectedApp:
    """One app the caller may manage; 404 outside their tenant (or outside `owner`)."""
    if not isinstance(client_id, str) or len(client_id) > 100 or "\x00" in client_id:
        raise Http404("Connected app not found.")
    app = (
        ConnectedApp.objects.select_related("owner_org", "user")
        .filter(client_id=client_id, root_org_id=access.root_org_id)
        .first()
    )
    if app is None or (owner is not None and app.owner_org_id != owner.id):
        raise Http404("Connected app not found.")
    if not access.can(Permission.MANAGE_CONNECTED_APPS, app.owner_org):
        raise PermissionDenied(f"You need manage:connected_apps in {app.owner_org.name}.")
    return app


def app_scope_data(app: ConnectedApp) -> list[dict]:
    """`[{"scope", "context_params": {...}}]` as the scopes API shows them."""
    rows = AppScope.objects.filter(app=app).order_by("scope", "context_org_id")
    return [
        {
            "scope": row.scope,
            "context_params": {
                **({"org": str(row.context_org_id)} if row.context_org_id else {}),
                **(
                    {"envId": str(row.context_environment_id)} if row.context_environment_id else {}
                ),
            },
        }
        for row in rows
    ]


def usage_days(raw: str | None) -> int:
    """The `days` of a usage query: absent or empty is the whole window (30); anything but
    a whole number from 1 to 30 is a ValidationError keyed `days`, since no more is kept."""
    if raw is None or raw == "":
        return USAGE_DAYS
    # Plain ASCII digits only: int() would also take " 7", "1_0" and non-ASCII digits.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 2) or not 1 <= int(raw) <= USAGE_DAYS:
        raise ValidationError({"days": [USAGE_DAYS_INVALID]})
    return int(raw)


@dataclass(frozen=True)
class AppUsage:
    organizations: int
    users: int
    tokens_issued: list[dict]
    last_used_at: datetime | None


@dataclass(frozen=True)
class AppUsageReport(AppUsage):
    """An app's usage with its refused token requests, day by day over the same days."""

    tokens_refused: list[dict]
    days: int

    @property
    def issued_total(self) -> int:
        return sum(d["count"] for d in self.tokens_issued)

    @property
    def refused_total(self) -> int:
        return sum(d["count"] for d in self.tokens_refused)


def _usage_days(days: int, today: date | None) -> list[date]:
    """The last `days` UTC days up to today, oldest first."""
    today = today or timezone.now().date()
    return [today - timedelta(days=days - 1 - i) for i in range(days)]


def app_usage(*, app: ConnectedApp, today: date | None = None) -> AppUsage:
    """Who uses the app (live authorizations) and tokens issued per day for 30 days."""
    return app_usage_many(apps=[app], today=today)[app.pk]


def app_usage_report(
    *, app: ConnectedApp, days: int = USAGE_DAYS, today: date | None = None
) -> AppUsageReport:
    """`app_usage` over the last `days` (1 to 30) with the refused token requests of those
    days from the audit trail: three queries whatever the days or the events."""
    usage = app_usage_many(apps=[app], days=days, today=today)[app.pk]
    span = _usage_days(days, today)
    refused = token_refusals_per_day(client_id=app.client_id, first=span[0], last=span[-1])
    return AppUsageReport(
        **vars(usage),
        tokens_refused=[{"date": d.isoformat(), "count": refused.get(d, 0)} for d in span],
        days=days,
    )


def app_usage_many(
    *, apps: list[ConnectedApp], days: int = USAGE_DAYS, today: date | None = None
) -> dict[int, AppUsage]:
    """`app_usage` for a page of apps in two queries, whatever the page size."""
    ids = [a.pk for a in apps]
    figures = {
        row["app_id"]: row
        for row in Authorization.objects.filter(app_id__in=ids, revoked_at__isnull=True)
        .values("app_id")
        .annotate(
            users=Count("user_id", distinct=True),
            organizations=Count("user__organization_id", distinct=True),
        )
    }
    span = _usage_days(days, today)
    counts: dict[int, dict[date, int]] = {}
    for app_id, day, issued in AppUsageDay.objects.filter(
        app_id__in=ids, day__gte=span[0], day__lte=span[-1]
    ).values_list("app_id", "day", "tokens_issued"):
        counts.setdefault(app_id, {})[day] = issued
    # Counts the beat task has not rolled up yet (connected_apps.usage).
    for (app_id, day), pending in pending_counts(ids, span).items():
        counts.setdefault(app_id, {})[day] = counts.get(app_id, {}).get(day, 0) + pending
    return {
        app.pk: AppUsage(
            organizations=figures.get(app.pk, {}).get("organizations", 0),
            users=figures.get(app.pk, {}).get("users", 0),
            tokens_issued=[
                {"date": d.isoformat(), "count": counts.get(app.pk, {}).get(d, 0)} for d in span
            ],
            last_used_at=app.last_used_at,
        )
        for app in apps
    }


# ---------------------------------------------------------------------------------------------
# What the portal's app forms may offer, and a user's own authorizations ("My apps")
# ---------------------------------------------------------------------------------------------
def app_owner_orgs(*, access: Access) -> list[Organization]:
    """Orgs/BGs of the caller's tree that may own an app they create, in tree order."""
    root_id = access.root_org_id
    orgs = Organization.objects.filter(Q(id=root_id) | Q(root_id=root_id)).order_by("path")
    return [o for o in orgs if access.can(Permission.MANAGE_CONNECTED_APPS, o)]


def scope_context_orgs(*, access: Access) -> list[Organization]:
    """Orgs/BGs an own-behalf app of the caller's may hold a scope in: the subtrees of the
    orgs they may create apps in (the service allows any org below the app's owner)."""
    owners = app_owner_orgs(access=access)
    if not owners:
        return []
    paths = Q()
    for owner in owners:
        paths |= Q(path__startswith=owner.path)
    return list(Organization.objects.filter(paths).order_by("path"))


def scope_context_environments(*, orgs: list[Organization]) -> list[Environment]:
    """Environments of `orgs` (already scoped to the caller), by org then name."""
    return list(
        Environment.objects.filter(organization__in=orgs)
        .select_related("organization")
        .order_by("organization__path", "name")
    )


def app_scope_rows(app: ConnectedApp) -> QuerySet[AppScope]:
    """The app's scope rows with their context org and environment loaded."""
    return (
        AppScope.objects.filter(app=app)
        .select_related("context_org", "context_environment")
        .order_by("scope", "context_org__path", "context_environment__name")
    )


def user_authorization_list(*, user) -> QuerySet[Authorization]:
    """The user's live authorizations (apps they allowed and have not revoked), newest
    first, each with `last_used` (last token issued for this user and app)."""
    last_token = (
        get_access_token_model()
        .objects.filter(user=user, application=OuterRef("app_id"))
        .order_by()
        .values("application")
        .annotate(latest=Max("created"))
        .values("latest")
    )
    return (
        Authorization.objects.filter(user=user, revoked_at__isnull=True)
        .select_related("app", "app__owner_org")
        .annotate(last_used=Coalesce("last_used_at", Subquery(last_token)))
        .order_by("-created_at", "-pk")
    )


def user_authorization_get(*, user, client_id: str) -> Authorization:
    """The user's live authorization of the app `client_id`; 404 when there is none."""
    if not isinstance(client_id, str) or len(client_id) > 100 or "\x00" in client_id:
        raise Http404("Authorization not found.")
    authorization = user_authorization_list(user=user).filter(app__client_id=client_id).first()
    if authorization is None:
        raise Http404("Authorization not found.")
    return authorization


# -- allowlist approvals (SPEC §6, issue 16) -------------------------------------------------------
# Reads of the Authorized apps page's approval flow. They sit here, not in controls.py (the
# allowlist's services), because they are plain reads and that module is already long.
def _catalog_sorted(scopes: set[str]) -> list[str]:
    """Scopes in the catalog's order (special scopes first), unknown ones last by name."""
    return sorted(
        scopes,
        key=lambda s: (ALL_SCOPES.index(s) if s in ALL_SCOPES else len(ALL_SCOPES), s),
    )


def _app_scopes(app_ids: list) -> dict[object, list[str]]:
    """Each app's current scope set (an own-behalf app holds a scope once per context)."""
    found: dict[object, set[str]] = {app_id: set() for app_id in app_ids}
    for app_id, scope in AppScope.objects.filter(app_id__in=app_ids).values_list("app_id", "scope"):
        found[app_id].add(scope)
    return {app_id: _catalog_sorted(scopes) for app_id, scopes in found.items()}


@dataclass(frozen=True)
class AllowlistCandidate:
    """An app the org's users authorized that its allowlist does not list yet: `users` of
    the org hold a live authorization; approving it approves `scopes` (its current set)."""

    app: ConnectedApp
    users: int
    scopes: list[str]


def allowlist_candidate_list(*, org: Organization) -> list[AllowlistCandidate]:
    """Apps of other tenants that users of `org` authorized (live authorizations) and that
    could be allowlisted (audience `everyone`) but are not, by name: two queries."""
    listed = AllowlistEntry.objects.filter(organization=org, app=OuterRef("pk"))
    apps = list(
        ConnectedApp.objects.filter(
            authorizations__revoked_at__isnull=True,
            authorizations__user__organization=org,
            audience=Audience.EVERYONE,
        )
        .exclude(root_org=org)
        .exclude(Exists(listed))
        .annotate(users=Count("authorizations__user", distinct=True))
        .select_related("owner_org")
        .order_by("name", "client_id")
    )
    scopes = _app_scopes([app.pk for app in apps])
    return [AllowlistCandidate(app=a, users=a.users, scopes=scopes[a.pk]) for a in apps]


@dataclass(frozen=True)
class AllowlistApproval:
    """What approving `app` for the org would do: approve `scopes` (its current set), in
    place of `entry.approved_scopes` when it is already listed (a re-approval)."""

    app: ConnectedApp
    scopes: list[str]
    entry: AllowlistEntry | None

    @property
    def added_scopes(self) -> list[str]:
        approved = set(self.entry.approved_scopes) if self.entry else set()
        return [s for s in self.scopes if s not in approved]

    @property
    def removed_scopes(self) -> list[str]:
        if self.entry is None:
            return []
        return _catalog_sorted(set(self.entry.approved_scopes) - set(self.scopes))

    @property
    def up_to_date(self) -> bool:
        return self.entry is not None and not self.added_scopes and not self.removed_scopes


def allowlist_approval_get(*, org: Organization, client_id: str) -> AllowlistApproval | None:
    """The approval of app `client_id` for `org`'s users, or None when no such app can serve
    them (unknown, or another tenant's internal app): three queries."""
    app = app_for_org_find(org=org, client_id=client_id)
    if app is None:
        return None
    entry = (
        AllowlistEntry.objects.filter(organization=org, app=app)
        .select_related("approved_by")
        .first()
    )
    return AllowlistApproval(app=app, scopes=_app_scopes([app.pk])[app.pk], entry=entry)


def allowlist_entry_get(*, org: Organization, client_id: str) -> AllowlistEntry | None:
    """The org's allowlist entry for app `client_id`, with the app, or None: one query."""
    return (
        AllowlistEntry.objects.filter(organization=org, app__client_id=client_id)
        .select_related("app", "app__owner_org", "approved_by")
        .first()
    )
