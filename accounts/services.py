"""Writes for organizations, business groups, environments, users, permissions and IdPs.

Every function validates, writes in one transaction and records its audit event in the same
transaction. Authorization is checked here, against the caller's `Access`, so pages and APIs
cannot forget it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from accounts.access import Access
from accounts.catalog import PERMISSIONS, Permission, Role
from accounts.models import (
    Environment,
    EnvironmentType,
    IdentityProvider,
    Organization,
    PermissionGrant,
    RoleGrant,
    User,
)
from audit.models import AuditAction
from audit.services import RequestMeta, audit_record

NAME_REQUIRED = "A name is required."
NAME_TOO_LONG = "Names are at most 100 characters."
ORGANIZATION_NAME_TAKEN = "An organization with this name already exists."
BUSINESS_GROUP_NAME_TAKEN = "This organization already has a business group with this name."
ENVIRONMENT_NAME_TAKEN = "This organization already has an environment with this name."
ENVIRONMENT_TYPE_INVALID = "The environment type must be production or sandbox."
IDENTITY_PROVIDER_NAME_TAKEN = "This organization already has an identity provider with this name."
USERNAME_TAKEN = "This username is already taken."
USERNAME_INVALID = "Usernames are 1-150 letters, digits and @.+-_ characters."
EMAIL_INVALID = "Enter a valid email address."
PERMISSION_UNKNOWN = "Unknown permission: {permission}."
ROLE_UNKNOWN = "Unknown role: {role}."
ENVIRONMENT_NOT_IN_ORGANIZATION = "Environment {environment} does not belong to this organization."
CANNOT_GRANT_UNHELD_PERMISSION = "You can only grant permissions you hold yourself: {permission}."
LAST_ADMINISTRATOR = "The organization must keep at least one Organization Administrator."
NOT_A_MEMBER = "This user is not a member of this organization."


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": NAME_REQUIRED})
    if len(name) > 100:
        raise ValidationError({"name": NAME_TOO_LONG})
    return name


# ---------------------------------------------------------------------------------------------
# Organizations and business groups
# ---------------------------------------------------------------------------------------------
def organization_create_root(*, name: str, meta: RequestMeta | None = None) -> Organization:
    """Create a root organization (signup, bootstrap). Root names are unique platform-wide."""
    name = _clean_name(name)
    with transaction.atomic():
        if Organization.objects.filter(parent__isnull=True, name__iexact=name).exists():
            raise ValidationError({"name": ORGANIZATION_NAME_TAKEN})
        org_id = uuid.uuid4()
        org = Organization.objects.create(id=org_id, name=name, path=f"/{org_id}/")
        audit_record(
            action=AuditAction.ORGANIZATION_CREATED,
            organization=org,
            actor=None,
            target=org,
            details={"name": name},
            meta=meta,
        )
    return org


def business_group_create(
    *, access: Access, parent: Organization, name: str, meta: RequestMeta | None = None
) -> Organization:
    """Create a BG under `parent`; needs manage:business_groups on the parent."""
    access.require(Permission.MANAGE_BUSINESS_GROUPS, parent)
    name = _clean_name(name)
    with transaction.atomic():
        if Organization.objects.filter(parent=parent, name__iexact=name).exists():
            raise ValidationError({"name": BUSINESS_GROUP_NAME_TAKEN})
        org_id = uuid.uuid4()
        group = Organization.objects.create(
            id=org_id,
            name=name,
            parent=parent,
            root_id=parent.root_id_or_self,
            path=f"{parent.path}{org_id}/",
        )
        audit_record(
            action=AuditAction.BUSINESS_GROUP_CREATED,
            organization=group,
            actor=access.user,
            target=group,
            details={"name": name, "parent_id": str(parent.id)},
            meta=meta,
        )
    return group


def organization_rename(
    *, access: Access, org: Organization, name: str, meta: RequestMeta | None = None
) -> Organization:
    """Rename an org or BG; needs edit:organization there."""
    access.require(Permission.EDIT_ORGANIZATION, org)
    name = _clean_name(name)
    with transaction.atomic():
        siblings = (
            Organization.objects.filter(parent=org.parent)
            if org.parent_id
            else Organization.objects.filter(parent__isnull=True)
        )
        if siblings.exclude(id=org.id).filter(name__iexact=name).exists():
            raise ValidationError(
                {"name": BUSINESS_GROUP_NAME_TAKEN if org.parent_id else ORGANIZATION_NAME_TAKEN}
            )
        old_name = org.name
        org.name = name
        org.save(update_fields=["name", "updated_at"])
        audit_record(
            action=AuditAction.ORGANIZATION_UPDATED,
            organization=org,
            actor=access.user,
            target=org,
            details={"name": {"from": old_name, "to": name}},
            meta=meta,
        )
    return org


# ---------------------------------------------------------------------------------------------
# Environments
# ---------------------------------------------------------------------------------------------
def environment_create(
    *,
    access: Access,
    org: Organization,
    name: str,
    type: str,
    meta: RequestMeta | None = None,
) -> Environment:
    """Create an environment in an org/BG; needs edit:environment org-wide there."""
    access.require(Permission.EDIT_ENVIRONMENT, org)
    name = _clean_name(name)
    if type not in EnvironmentType.values:
        raise ValidationError({"type": ENVIRONMENT_TYPE_INVALID})
    with transaction.atomic():
        if Environment.objects.filter(organization=org, name__iexact=name).exists():
            raise ValidationError({"name": ENVIRONMENT_NAME_TAKEN})
        environment = Environment.objects.create(organization=org, name=name, type=type)
        audit_record(
            action=AuditAction.ENVIRONMENT_CREATED,
            organization=org,
            actor=access.user,
            target=environment,
            details={"name": name, "type": type},
            meta=meta,
        )
    return environment


# ---------------------------------------------------------------------------------------------
# Users
# ---------------------------------------------------------------------------------------------
def _validate_new_user(*, username: str, email: str, password: str) -> tuple[str, str]:
    from django.contrib.auth.validators import UnicodeUsernameValidator
    from django.core.validators import validate_email

    username = (username or "").strip()
    email = (email or "").strip()
    errors: dict[str, list[str]] = {}
    try:
        if not username or len(username) > 150:
            raise ValidationError(USERNAME_INVALID)
        UnicodeUsernameValidator(message=USERNAME_INVALID)(username)
    except ValidationError:
        errors["username"] = [USERNAME_INVALID]
    else:
        if User.objects.filter(username__iexact=username).exists():
            errors["username"] = [USERNAME_TAKEN]
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = [EMAIL_INVALID]
    try:
        validate_password(password, User(username=username, email=email))
    except ValidationError as exc:
        errors["password"] = list(exc.messages)
    if errors:
        raise ValidationError(errors)
    return username, email


def _user_insert(
    *,
    organization: Organization,
    username: str,
    email: str,
    password: str,
    first_name: str,
    last_name: str,
) -> User:
    user = User(
        organization=organization,
        username=username,
        email=email,
        first_name=(first_name or "").strip()[:150],
        last_name=(last_name or "").strip()[:150],
    )
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:  # a concurrent request took the username
        raise ValidationError({"username": USERNAME_TAKEN}) from exc
    return user


def user_create(
    *,
    access: Access,
    org: Organization,
    username: str,
    email: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
    meta: RequestMeta | None = None,
) -> User:
    """Add a member to the root org of `org`; needs manage:users at `org`."""
    access.require(Permission.MANAGE_USERS, org)
    username, email = _validate_new_user(username=username, email=email, password=password)
    with transaction.atomic():
        root = org if org.is_root else org.root
        user = _user_insert(
            organization=root,
            username=username,
            email=email,
            password=password,
            first_name=first_name,
            last_name=last_name,
        )
        audit_record(
            action=AuditAction.USER_CREATED,
            organization=org,
            actor=access.user,
            target=user,
            details={"username": username},
            meta=meta,
        )
    return user


@dataclass(frozen=True)
class OrgWithAdmin:
    organization: Organization
    admin: User
    created: bool


def organization_signup(
    *,
    org_name: str,
    username: str,
    email: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
    meta: RequestMeta | None = None,
) -> OrgWithAdmin:
    """A new root org with its first Organization Administrator, all or nothing."""
    username, email = _validate_new_user(username=username, email=email, password=password)
    with transaction.atomic():
        org = organization_create_root(name=org_name, meta=meta)
        admin = _user_insert(
            organization=org,
            username=username,
            email=email,
            password=password,
            first_name=first_name,
            last_name=last_name,
        )
        RoleGrant.objects.create(user=admin, organization=org, role=Role.ORGANIZATION_ADMINISTRATOR)
        audit_record(
            action=AuditAction.USER_CREATED,
            organization=org,
            actor=admin,
            target=admin,
            details={"username": username, "role": Role.ORGANIZATION_ADMINISTRATOR.value},
            meta=meta,
        )
    return OrgWithAdmin(organization=org, admin=admin, created=True)


def organization_bootstrap(
    *, org_name: str, username: str, password: str, email: str
) -> OrgWithAdmin:
    """Idempotent: the org and its admin exist afterwards, with this password and email."""
    with transaction.atomic():
        org = Organization.objects.filter(parent__isnull=True, name__iexact=org_name).first()
        user = User.objects.filter(username__iexact=username).first()
        if org is None and user is None:
            return organization_signup(
                org_name=org_name, username=username, email=email, password=password
            )
        if org is None:
            raise ValidationError(
                {"admin": f"User {username} already belongs to another organization."}
            )
        if user is None:
            username, email = _validate_new_user(username=username, email=email, password=password)
            user = _user_insert(
                organization=org,
                username=username,
                email=email,
                password=password,
                first_name="",
                last_name="",
            )
        elif user.organization_id != org.id:
            raise ValidationError(
                {"admin": f"User {username} already belongs to another organization."}
            )
        else:
            user.email = email
            user.set_password(password)
            user.save(update_fields=["email", "password"])
        RoleGrant.objects.get_or_create(
            user=user, organization=org, role=Role.ORGANIZATION_ADMINISTRATOR
        )
    return OrgWithAdmin(organization=org, admin=user, created=False)


# ---------------------------------------------------------------------------------------------
# Permissions and roles
# ---------------------------------------------------------------------------------------------
def _parse_permissions(permissions: Iterable[str]) -> list[Permission]:
    parsed: list[Permission] = []
    for value in permissions:
        if value not in Permission.values:
            raise ValidationError({"permissions": PERMISSION_UNKNOWN.format(permission=value)})
        if Permission(value) not in parsed:
            parsed.append(Permission(value))
    return parsed


def _parse_environments(org: Organization, environment_ids: Iterable[str]) -> list[Environment]:
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


def _check_grantable(
    access: Access,
    org: Organization,
    permissions: list[Permission],
    environments: list[Environment],
) -> None:
    """No escalation: a caller grants only what they could use themselves there."""
    for permission in permissions:
        scoped = PERMISSIONS[permission].environment_scoped and environments
        targets: list[Environment | None] = list(environments) if scoped else [None]
        for environment in targets:
            if not access.can(permission, org, environment):
                raise PermissionDenied(
                    CANNOT_GRANT_UNHELD_PERMISSION.format(permission=permission.value)
                )


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

    `permissions=None` leaves the grants alone; `set_role=False` leaves the role alone.
    Environment-scoped permissions apply to `environments` (every environment when empty).
    Only an Organization Administrator may hand out or take away that role, and nobody can
    grant a permission they could not use themselves.
    """
    access.require(Permission.MANAGE_USERS, org)
    if user.organization_id != org.root_id_or_self:
        raise ValidationError({"user": NOT_A_MEMBER})
    parsed_permissions = _parse_permissions(permissions) if permissions is not None else None
    parsed_environments = _parse_environments(org, environments or [])
    if set_role and role not in (None, "", *Role.values):
        raise ValidationError({"role": ROLE_UNKNOWN.format(role=role)})
    if set_role and not access.is_admin_of(org):
        raise PermissionDenied("Only an Organization Administrator can change roles.")
    if parsed_permissions is not None:
        _check_grantable(access, org, parsed_permissions, parsed_environments)

    with transaction.atomic():
        before = _permission_summary(org, user)
        if parsed_permissions is not None:
            PermissionGrant.objects.filter(user=user, organization=org).delete()
            rows = []
            for permission in parsed_permissions:
                if PERMISSIONS[permission].environment_scoped and parsed_environments:
                    rows += [
                        PermissionGrant(
                            user=user, organization=org, permission=permission, environment=env
                        )
                        for env in parsed_environments
                    ]
                else:
                    rows.append(PermissionGrant(user=user, organization=org, permission=permission))
            PermissionGrant.objects.bulk_create(rows)
        if set_role:
            if role:
                RoleGrant.objects.get_or_create(user=user, organization=org, role=role)
            else:
                RoleGrant.objects.filter(user=user, organization=org).delete()
                _ensure_an_administrator_remains(org)
        after = _permission_summary(org, user)
        audit_record(
            action=AuditAction.USER_PERMISSIONS_CHANGED,
            organization=org,
            actor=access.user,
            target=user,
            details={"before": before, "after": after},
            meta=meta,
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


# ---------------------------------------------------------------------------------------------
# Identity providers
# ---------------------------------------------------------------------------------------------
def identity_provider_create(
    *, access: Access, org: Organization, name: str, meta: RequestMeta | None = None
) -> IdentityProvider:
    """Register an identity provider of `org`; needs edit:organization there."""
    access.require(Permission.EDIT_ORGANIZATION, org)
    name = _clean_name(name)
    with transaction.atomic():
        if IdentityProvider.objects.filter(organization=org, name__iexact=name).exists():
            raise ValidationError({"name": IDENTITY_PROVIDER_NAME_TAKEN})
        provider = IdentityProvider.objects.create(organization=org, name=name)
        audit_record(
            action=AuditAction.IDENTITY_PROVIDER_CREATED,
            organization=org,
            actor=access.user,
            target=provider,
            details={"name": name},
            meta=meta,
        )
    return provider
