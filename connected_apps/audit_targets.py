"""How the audit log names connected_apps' objects (audit.targets): apps (by row id as targets,
by client_id as actors), users' authorizations and allowlist entries. One query per type for
the page. An app is named whoever owns it (a third-party app acting in the tenant is part of
its story) but linked only when its page is the tenant's; authorizations and allowlist entries
only within the tenant."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from audit.targets import APP_BY_CLIENT_ID, TargetLabel, target_resolver
from connected_apps.models import AllowlistEntry, Authorization, ConnectedApp


def _int_ids(ids: list[str]) -> list[int]:
    return [int(value) for value in ids if value.isdigit() and len(value) < 19]


def _root_id(org: Any) -> Any:
    return org.root_id or org.id


def app_label(app: ConnectedApp, org: Any) -> TargetLabel:
    url = ""
    if app.root_org_id == _root_id(org):
        url = reverse("connected_apps:app_detail", args=[app.client_id])
    return TargetLabel(name=app.name or app.client_id, url=url, note=app.client_id)


@target_resolver("connected_app", "connectedapp")
def apps_named(org: Any, ids: list[str]) -> dict[str, TargetLabel]:
    apps = ConnectedApp.objects.filter(id__in=_int_ids(ids)).only(
        "id", "name", "client_id", "root_org_id"
    )
    return {str(app.id): app_label(app, org) for app in apps}


@target_resolver(APP_BY_CLIENT_ID)
def apps_by_client_id(org: Any, ids: list[str]) -> dict[str, TargetLabel]:
    apps = ConnectedApp.objects.filter(client_id__in=ids).only(
        "id", "name", "client_id", "root_org_id"
    )
    return {app.client_id: app_label(app, org) for app in apps}


@target_resolver("authorization")
def authorizations_named(org: Any, ids: list[str]) -> dict[str, TargetLabel]:
    authorizations = (
        Authorization.objects.filter(id__in=_int_ids(ids), user__organization_id=_root_id(org))
        .select_related("app", "user")
        .only("id", "app__name", "app__client_id", "app__root_org_id", "user__username")
    )
    labels = {}
    for authorization in authorizations:
        app = app_label(authorization.app, org)
        labels[str(authorization.id)] = TargetLabel(
            name=f"{app.name} for {authorization.user.username}", url=app.url, note=app.note
        )
    return labels


@target_resolver("allowlist_entry", "allowlistentry")
def allowlist_entries_named(org: Any, ids: list[str]) -> dict[str, TargetLabel]:
    entries = (
        AllowlistEntry.objects.filter(id__in=_int_ids(ids), organization_id=_root_id(org))
        .select_related("app")
        .only("id", "app__name", "app__client_id", "app__root_org_id")
    )
    labels = {}
    for entry in entries:
        app = app_label(entry.app, org)
        labels[str(entry.id)] = TargetLabel(
            name=f"{app.name} on the allowlist",
            url=reverse("connected_apps:authorized_apps"),
            note=app.note,
        )
    return labels
