"""Writes for a member's permissions and role in an org or BG: who may grant what, and an
organization never left without an Organization Administrator.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from accounts.access import Access
from accounts.catalog import PERMISSIONS, Permission, Role
from accounts.models import Environment, Organization, PermissionGrant, RoleGrant, User
from audit.models import AuditAction
from audit.services import RequestMeta, audit_record

PERMISSION_UNKNOWN = "Unknown permission: {permission}."
PERMISSIONS_NOT_A_LIST = "Permissions are a list of permission names."
ENVIRONMENTS_NOT_A_LIST = "Environments are a list of environment ids."
ROLE_UNKNOWN = "Unknown role: {role}."
ENVIRONMENT_NOT_IN_ORGANIZATION = "Environment {environment} does not belong to this organization."
CANNOT_GRANT_UNHELD_PERMISSION = "You can only grant permissions you hold yourself: {permission}."
CANNOT_CHANGE_ROLE = "Only an Organization Administrator with full access can change roles."
LAST_ADMINISTRATOR = "The organization must keep at least one Organization Administrator."
NOT_A_MEMBER = "This user is not a member of this organization."


def _parse_permissions(permissions: Iterable[str]) -> list[Permission]:
    if isinstance(permissions, str | bytes | dict) or not isinstance(permissions, Iterable):
        raise ValidationError({"permissions": PERMISSIONS_NOT_A_LIST})
    parsed: list[Permission] = []
    for value in permissions:
        if not isinstance(value, str) or value not in Permission.values:
            raise ValidationError({"permissions": PERMISSION_UNKNOWN.format(permission=value)})
        if Permission(value) not in parsed:
            parsed.append(Permission(value))
    return parsed


def _parse_environments(org: Organization, environment_ids: Iterable[str]) -> list[Environment]:
    if isinstance(environment_ids, str | bytes | dict) or not isinstance(environment_ids, Iterable):
        raise ValidationError({"environments": ENVIRONMENTS_NOT_A_LIST})
    wanted: list[uuid.UUID] = []
    for value in environment_ids:
        try:
            wanted.append(uuid.UUID(str(value)))
        except ValueError as exc:
            raise ValidationError(
                {"environments": ENVIRONMENT_NOT_IN_ORGANIZATION.format(environment=value)}
            ) from exc
    found = {e.id: e for e in Environment.objects.filter(organization=org, id__in=wanted)}
    for environment_id in wanted:
        if environment_id not in found:
            raise ValidationError(
                {"environments": ENVIRONMENT_NOT_IN_ORGANIZATION.format(environment=environment_id)}
            )
    return [found[i] for i in dict.fromkeys(wanted)]


# One grant: a permission, in one environment or (None) org-wide.
GrantKey = tuple[Permission, uuid.UUID | None]


def _requested_grants(
    permissions: list[Permission], environments: list[Environment]
) -> dict[GrantKey, Environment | None]:
    """The grant rows a request asks for: environment-scoped permissions once per environment
    when environments are given, every other permission (and those without) org-wide."""
    requested: dict[GrantKey, Environment | None] = {}
    for permission in permissions:
        if PERMISSIONS[permission].environment_scoped and environments:
            requested.update({(permission, e.id): e for e in environments})
        else:
            requested[(permission, None)] = None
    return requested


def _check_grant_changes(
    access: Access,
    org: Organization,
    current: dict[GrantKey, Environment | None],
    requested: dict[GrantKey, Environment | None],
) -> None:
    """No escalation: every grant added or taken away must be one the caller could use there.

    Grants left as they are need nothing, so a manager can edit a user who holds more than
    they do without having to drop (or being able to drop) what they cannot hand out.
    """
    order = {p: i for i, p in enumerate(Permission)}
    changed = {**requested, **current}
    for key in sorted(current.keys() ^ requested.keys(), key=lambda k: (order[k[0]], str(k[1]))):
        permission = key[0]
        if not access.can(permission, org, changed[key]):
            raise PermissionDenied(
                CANNOT_GRANT_UNHELD_PERMISSION.format(permission=permission.value)
            )


def _current_grants(org: Organization, user: User) -> dict[GrantKey, Environment | None]:
    return {
        (Permission(grant.permission), grant.environment_id): grant.environment
        for grant in PermissionGrant.objects.filter(user=user, organization=org).select_related(
            "environment"
        )
    }


def user_permissions_set(
    *,
    access: Access,
    org: Organization,
    user: User,
    permissions: list[str] | None = None,
    environments: list[str] | None = None,
    role: str | None = None,
    set_role: bool = False,
    meta: RequestMeta | None = None,
) -> None:
    """Replace `user`'s permission grants at `org` and/or set or clear their role there.

    `permissions=None` leaves the grants alone; `set_role=False` leaves the role alone (the
    API's PUT replaces both, SPEC §4: a body without `role` removes the role).
    Environment-scoped permissions apply to `environments` (every environment when empty).
    Only an Organization Administrator may hand out or take away that role, nobody can add
    or remove a grant they could not use themselves, and a root org keeps an administrator.
    """
    access.require(Permission.MANAGE_USERS, org)
    if user.organization_id != org.root_id_or_self:
        raise ValidationError({"user": NOT_A_MEMBER})
    parsed_permissions = _parse_permissions(permissions) if permissions is not None else None
    parsed_environments = _parse_environments(org, environments or [])
    if set_role and role not in (None, "", *Role.values):
        raise ValidationError({"role": ROLE_UNKNOWN.format(role=role)})

    with transaction.atomic():
        before = _permission_summary(org, user)
        # Setting the role a user already has (or has not) changes nothing, so a manager
        # may replace the grants of a member without the role; any change needs an admin.
        changes_role = set_role and (role or None) != before["role"]
        if changes_role and not access.holds_everything_in(org):
            raise PermissionDenied(CANNOT_CHANGE_ROLE)
        if parsed_permissions is not None:
            _grants_replace(access, org, user, parsed_permissions, parsed_environments)
        if changes_role:
            _role_set(org, user, role or None)
        after = _permission_summary(org, user)
        audit_record(
            action=AuditAction.USER_PERMISSIONS_CHANGED,
            organization=org,
            **access.audit_actor,
            target=user,
            details={"before": before, "after": after},
            meta=meta,
        )


def _grants_replace(
    access: Access,
    org: Organization,
    user: User,
    permissions: list[Permission],
    environments: list[Environment],
) -> None:
    current = _current_grants(org, user)
    requested = _requested_grants(permissions, environments)
    _check_grant_changes(access, org, current, requested)
    PermissionGrant.objects.filter(user=user, organization=org).delete()
    PermissionGrant.objects.bulk_create(
        PermissionGrant(user=user, organization=org, permission=permission, environment=env)
        for (permission, _), env in requested.items()
    )


def _role_set(org: Organization, user: User, role: str | None) -> None:
    if role:
        RoleGrant.objects.get_or_create(user=user, organization=org, role=role)
        return
    _lock_administrators(org)
    RoleGrant.objects.filter(user=user, organization=org).delete()
    _ensure_an_administrator_remains(org)


def _lock_administrators(org: Organization) -> None:
    """Two administrators removing each other at once must not both see the other remain:
    the second waits for the first and then finds itself the last (PostgreSQL)."""
    list(
        RoleGrant.objects.select_for_update()
        .filter(organization=org, role=Role.ORGANIZATION_ADMINISTRATOR)
        .values_list("id", flat=True)
    )


def _ensure_an_administrator_remains(org: Organization) -> None:
    if not org.is_root:
        return
    if not RoleGrant.objects.filter(
        organization=org, role=Role.ORGANIZATION_ADMINISTRATOR
    ).exists():
        raise ValidationError({"role": LAST_ADMINISTRATOR})


def _permission_summary(org: Organization, user: User) -> dict:
    grants = PermissionGrant.objects.filter(user=user, organization=org).values_list(
        "permission", "environment_id"
    )
    roles = RoleGrant.objects.filter(user=user, organization=org).values_list("role", flat=True)
    return {
        "permissions": sorted({p for p, _ in grants}),
        "environments": sorted({str(e) for _, e in grants if e}),
        "role": next(iter(roles), None),
    }
