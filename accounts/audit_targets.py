"""How the audit log names accounts' objects (audit.targets): users, organizations and business
groups, environments, identity providers. Each one query for the page, and only within the
tenant whose trail is read: an id of another tenant reads as deleted, never by its name."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Q
from django.urls import reverse

from accounts.models import Environment, IdentityProvider, Organization, User
from audit.targets import TargetLabel, target_resolver


def uuids(ids: list[str]) -> list[uuid.UUID]:
    """The ids that are UUIDs (target_id is free text)."""
    found = []
    for value in ids:
        try:
            found.append(uuid.UUID(value))
        except ValueError:
            continue
    return found


def _root_id(org: Any) -> Any:
    return org.root_id or org.id


def _in_tenant(org: Any, field: str = "") -> Q:
    """Organizations (or rows whose `field` is one) of the viewer's tenant: its root's tree."""
    prefix = f"{field}__" if field else ""
    return Q(**{f"{prefix}id": _root_id(org)}) | Q(**{f"{prefix}root_id": _root_id(org)})


@target_resolver("user")
def users_named(org: Any, ids: list[str]) -> dict[str, TargetLabel]:
    # A user belongs to a root organization.
    users = User.objects.filter(id__in=uuids(ids), organization_id=_root_id(org)).only(
        "id", "username"
    )
    return {
        str(u.id): TargetLabel(name=u.username, url=reverse("portal:user_detail", args=[u.id]))
        for u in users
    }


@target_resolver("organization", "business_group")
def organizations_named(org: Any, ids: list[str]) -> dict[str, TargetLabel]:
    orgs = Organization.objects.filter(_in_tenant(org), id__in=uuids(ids)).only("id", "name")
    return {
        str(o.id): TargetLabel(name=o.name, url=reverse("portal:organization_detail", args=[o.id]))
        for o in orgs
    }


@target_resolver("environment")
def environments_named(org: Any, ids: list[str]) -> dict[str, TargetLabel]:
    environments = Environment.objects.filter(
        _in_tenant(org, "organization"), id__in=uuids(ids)
    ).only("id", "name", "organization_id")
    return {
        str(e.id): TargetLabel(
            name=e.name, url=reverse("portal:environment_list", args=[e.organization_id])
        )
        for e in environments
    }


@target_resolver("identityprovider", "identity_provider")
def identity_providers_named(org: Any, ids: list[str]) -> dict[str, TargetLabel]:
    providers = IdentityProvider.objects.filter(
        _in_tenant(org, "organization"), id__in=uuids(ids)
    ).only("id", "name", "organization_id")
    return {
        str(p.id): TargetLabel(
            name=p.name,
            url=reverse("portal:identity_provider_detail", args=[p.organization_id, p.id]),
        )
        for p in providers
    }
