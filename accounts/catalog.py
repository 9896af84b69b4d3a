"""The permission catalog: the one source of truth for platform permissions and OAuth scopes.

Permission scopes map one to one to platform permissions (SPEC §3). The special scopes
(`full`, `read:full`, `openid`, `profile`, `email`, `offline_access`) are not permissions a user
holds; they shape what a token may do with the permissions its user holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models


class Permission(models.TextChoices):
    READ_ORGANIZATION = "read:organization", "View the organization and its business groups"
    EDIT_ORGANIZATION = "edit:organization", "Edit the organization's settings"
    MANAGE_BUSINESS_GROUPS = "manage:business_groups", "Create and manage business groups"
    VIEW_ENVIRONMENT = "view:environment", "View environments"
    EDIT_ENVIRONMENT = "edit:environment", "Create and edit environments"
    READ_USERS = "read:users", "View users and their permissions"
    MANAGE_USERS = "manage:users", "Add users and manage their permissions"
    READ_AUDIT_LOGS = "read:audit_logs", "Read the audit log"
    MANAGE_CONNECTED_APPS = "manage:connected_apps", "Register and manage connected apps"


class Role(models.TextChoices):
    ORGANIZATION_ADMINISTRATOR = "Organization Administrator", "Organization Administrator"


@dataclass(frozen=True)
class PermissionInfo:
    permission: Permission
    area: str
    read_only: bool
    environment_scoped: bool
    implies: frozenset[Permission] = frozenset()


PERMISSIONS: dict[Permission, PermissionInfo] = {
    info.permission: info
    for info in (
        PermissionInfo(Permission.READ_ORGANIZATION, "Organization", True, False),
        PermissionInfo(
            Permission.EDIT_ORGANIZATION,
            "Organization",
            False,
            False,
            frozenset({Permission.READ_ORGANIZATION}),
        ),
        PermissionInfo(
            Permission.MANAGE_BUSINESS_GROUPS,
            "Organization",
            False,
            False,
            frozenset({Permission.READ_ORGANIZATION}),
        ),
        PermissionInfo(Permission.VIEW_ENVIRONMENT, "Environments", True, True),
        PermissionInfo(
            Permission.EDIT_ENVIRONMENT,
            "Environments",
            False,
            True,
            frozenset({Permission.VIEW_ENVIRONMENT}),
        ),
        PermissionInfo(Permission.READ_USERS, "Users", True, False),
        PermissionInfo(
            Permission.MANAGE_USERS, "Users", False, False, frozenset({Permission.READ_USERS})
        ),
        PermissionInfo(Permission.READ_AUDIT_LOGS, "Audit", True, False),
        PermissionInfo(Permission.MANAGE_CONNECTED_APPS, "Connected apps", False, False),
    )
}


def implied_permissions(permission: Permission) -> frozenset[Permission]:
    """The permission itself and every permission holding it implies."""
    return frozenset({permission}) | PERMISSIONS[permission].implies


def permissions_implying(permission: Permission) -> frozenset[Permission]:
    """Every permission whose holder also holds `permission`."""
    return frozenset(p for p in Permission if permission in implied_permissions(p))


class SpecialScope(models.TextChoices):
    FULL = "full", "Do anything you can do"
    READ_FULL = "read:full", "Read anything you can read"
    OPENID = "openid", "Know your username and unique id"
    PROFILE = "profile", "Read your profile"
    EMAIL = "email", "Read your email address"
    OFFLINE_ACCESS = "offline_access", "Keep access while you are not signed in"


ALL_SCOPES: tuple[str, ...] = tuple(SpecialScope.values) + tuple(Permission.values)
SCOPE_DESCRIPTIONS: dict[str, str] = {
    **dict(SpecialScope.choices),
    **dict(Permission.choices),
}
