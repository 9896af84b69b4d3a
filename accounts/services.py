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
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from accounts.access import Access
from accounts.catalog import PERMISSIONS, Permission, Role
from accounts.models import (
    Environment,
    EnvironmentType,
    FederatedIdentity,
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
NAME_INVALID = "Names cannot contain control characters."
ORGANIZATION_NAME_TAKEN = "An organization with this name already exists."
BUSINESS_GROUP_NAME_TAKEN = "This organization already has a business group with this name."
BUSINESS_GROUP_TOO_DEEP = "Business groups can be nested at most {depth} levels deep."
ENVIRONMENT_NAME_TAKEN = "This organization already has an environment with this name."
ENVIRONMENT_TYPE_INVALID = "The environment type must be production or sandbox."
IDENTITY_PROVIDER_NAME_TAKEN = "This organization already has an identity provider with this name."
USERNAME_TAKEN = "This username is already taken."
USERNAME_INVALID = "Usernames are 1-150 letters, digits and @.+-_ characters."
EMAIL_INVALID = "Enter a valid email address."
PASSWORD_REQUIRED = "A password is required."  # noqa: S105 (a message, not a password)
PERSON_NAME_TOO_LONG = "First and last names are at most 150 characters."
PERMISSION_UNKNOWN = "Unknown permission: {permission}."
PERMISSIONS_NOT_A_LIST = "Permissions are a list of permission names."
ENVIRONMENTS_NOT_A_LIST = "Environments are a list of environment ids."
ROLE_UNKNOWN = "Unknown role: {role}."
ENVIRONMENT_NOT_IN_ORGANIZATION = "Environment {environment} does not belong to this organization."
CANNOT_GRANT_UNHELD_PERMISSION = "You can only grant permissions you hold yourself: {permission}."
CANNOT_CHANGE_ROLE = "Only an Organization Administrator with full access can change roles."
LAST_ADMINISTRATOR = "The organization must keep at least one Organization Administrator."
NOT_A_MEMBER = "This user is not a member of this organization."
USER_IN_ANOTHER_ORGANIZATION = "User {username} already belongs to another organization."
USER_INACTIVE = "User {username} is deactivated."
FEDERATED_USERNAME_TAKEN = (
    "This username belongs to an account the identity provider is not linked to."
)
IDENTITY_LINK_NEEDS_ADMIN = (
    "Only an Organization Administrator of the root organization can link or unlink members: "
    "a link hands the provider the member's account, whatever they hold in the tree."
)


# A BG path is one 37-character segment per level and must fit Organization.path (2000).
MAX_TREE_DEPTH = 50


def _has_control_characters(value: str) -> bool:
    # NUL cannot be stored by PostgreSQL at all; the others have no place in a display name.
    return any(ord(c) < 32 or ord(c) == 127 for c in value)


def _clean_name(name: str) -> str:
    name = (name if isinstance(name, str) else "").strip()
    if not name:
        raise ValidationError({"name": NAME_REQUIRED})
    if len(name) > 100:
        raise ValidationError({"name": NAME_TOO_LONG})
    if _has_control_characters(name):
        raise ValidationError({"name": NAME_INVALID})
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
        try:
            with transaction.atomic():
                org = Organization.objects.create(id=org_id, name=name, path=f"/{org_id}/")
        except IntegrityError as exc:  # a concurrent signup took the name
            raise ValidationError({"name": ORGANIZATION_NAME_TAKEN}) from exc
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
    if parent.depth + 1 > MAX_TREE_DEPTH:
        raise ValidationError({"name": BUSINESS_GROUP_TOO_DEEP.format(depth=MAX_TREE_DEPTH)})
    with transaction.atomic():
        if Organization.objects.filter(parent=parent, name__iexact=name).exists():
            raise ValidationError({"name": BUSINESS_GROUP_NAME_TAKEN})
        org_id = uuid.uuid4()
        try:
            with transaction.atomic():
                group = Organization.objects.create(
                    id=org_id,
                    name=name,
                    parent=parent,
                    root_id=parent.root_id_or_self,
                    path=f"{parent.path}{org_id}/",
                )
        except IntegrityError as exc:  # a concurrent request took the name
            raise ValidationError({"name": BUSINESS_GROUP_NAME_TAKEN}) from exc
        audit_record(
            action=AuditAction.BUSINESS_GROUP_CREATED,
            organization=group,
            **access.audit_actor,
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
            **access.audit_actor,
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
            **access.audit_actor,
            target=environment,
            details={"name": name, "type": type},
            meta=meta,
        )
    return environment


# ---------------------------------------------------------------------------------------------
# Users
# ---------------------------------------------------------------------------------------------
def _password_errors(password: object, user: User) -> list[str]:
    if not isinstance(password, str) or not password:
        return [PASSWORD_REQUIRED]
    try:
        validate_password(password, user)
    except ValidationError as exc:
        return list(exc.messages)
    return []


def _email_errors(email: str) -> list[str]:
    try:
        validate_email(email)
    except ValidationError:
        return [EMAIL_INVALID]
    return []


def _username_errors(username: str) -> list[str]:
    try:
        if not username or len(username) > 150:
            raise ValidationError(USERNAME_INVALID)
        UnicodeUsernameValidator(message=USERNAME_INVALID)(username)
    except ValidationError:
        return [USERNAME_INVALID]
    if User.objects.filter(username__iexact=username).exists():
        return [USERNAME_TAKEN]
    return []


def _as_text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _clean_user_fields(
    *, username: object, email: object, first_name: object, last_name: object
) -> dict[str, str]:
    """Trimmed text fields; the username NFKC-normalised, as Django's own forms do (a
    full-width "root" and "root" are one username)."""
    return {
        "username": User.normalize_username(_as_text(username)),
        "email": _as_text(email),
        "first_name": _as_text(first_name),
        "last_name": _as_text(last_name),
    }


def _validate_new_user(
    *, username: str, email: str, password: str, first_name: str = "", last_name: str = ""
) -> dict[str, str]:
    """Every problem with a new user's fields at once; the cleaned fields (no password)."""
    fields = _clean_user_fields(
        username=username, email=email, first_name=first_name, last_name=last_name
    )
    errors: dict[str, list[str]] = {
        "username": _username_errors(fields["username"]),
        "email": _email_errors(fields["email"]),
        "password": _password_errors(
            password, User(username=fields["username"], email=fields["email"])
        ),
    }
    for name in ("first_name", "last_name"):
        if len(fields[name]) > 150:
            errors[name] = [PERSON_NAME_TOO_LONG]
        elif _has_control_characters(fields[name]):
            errors[name] = [NAME_INVALID]
    errors = {name: messages for name, messages in errors.items() if messages}
    if errors:
        raise ValidationError(errors)
    return fields


def _user_insert(
    *,
    organization: Organization,
    username: str,
    email: str,
    password: str,
    first_name: str,
    last_name: str,
) -> User:
    """Insert a validated user (see `_validate_new_user`)."""
    user = User(
        organization=organization,
        username=username,
        email=email,
        first_name=first_name,
        last_name=last_name,
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
    fields = _validate_new_user(
        username=username,
        email=email,
        password=password,
        first_name=first_name,
        last_name=last_name,
    )
    with transaction.atomic():
        root = org if org.is_root else org.root
        user = _user_insert(organization=root, password=password, **fields)
        audit_record(
            action=AuditAction.USER_CREATED,
            organization=org,
            **access.audit_actor,
            target=user,
            details={"username": user.username},
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
    fields = _validate_new_user(
        username=username,
        email=email,
        password=password,
        first_name=first_name,
        last_name=last_name,
    )
    with transaction.atomic():
        org = organization_create_root(name=org_name, meta=meta)
        admin = _user_insert(organization=org, password=password, **fields)
        RoleGrant.objects.create(user=admin, organization=org, role=Role.ORGANIZATION_ADMINISTRATOR)
        audit_record(
            action=AuditAction.USER_CREATED,
            organization=org,
            actor=admin,
            target=admin,
            details={"username": admin.username, "role": Role.ORGANIZATION_ADMINISTRATOR.value},
            meta=meta,
        )
    return OrgWithAdmin(organization=org, admin=admin, created=True)


def organization_bootstrap(
    *, org_name: str, username: str, password: str, email: str
) -> OrgWithAdmin:
    """Idempotent: the org and its admin exist afterwards, with this password and email.

    The admin must not belong to another organization; an existing admin is re-enabled.
    """
    org_name, username = _as_text(org_name), User.normalize_username(_as_text(username))
    with transaction.atomic():
        org = Organization.objects.filter(parent__isnull=True, name__iexact=org_name).first()
        user = User.objects.filter(username__iexact=username).first()
        if org is None and user is None:
            return organization_signup(
                org_name=org_name, username=username, email=email, password=password
            )
        if user is not None and user.organization_id != getattr(org, "id", None):
            raise ValidationError(
                {"admin": USER_IN_ANOTHER_ORGANIZATION.format(username=user.username)}
            )
        if user is None:
            fields = _validate_new_user(username=username, email=email, password=password)
            user = _user_insert(organization=org, password=password, **fields)
            audit_record(
                action=AuditAction.USER_CREATED,
                organization=org,
                actor=None,
                target=user,
                details={"username": user.username},
            )
        else:
            _user_restore(user, email=email, password=password)
        _, role_created = RoleGrant.objects.get_or_create(
            user=user, organization=org, role=Role.ORGANIZATION_ADMINISTRATOR
        )
        if role_created:
            audit_record(
                action=AuditAction.USER_PERMISSIONS_CHANGED,
                organization=org,
                actor=None,
                target=user,
                details={"after": {"role": Role.ORGANIZATION_ADMINISTRATOR.value}},
            )
    return OrgWithAdmin(organization=org, admin=user, created=False)


def _user_restore(user: User, *, email: str, password: str) -> None:
    """Bring an existing user back to this email and (validated) password, enabled."""
    email = _as_text(email)
    errors = {
        "email": _email_errors(email),
        "password": _password_errors(password, User(username=user.username, email=email)),
    }
    errors = {name: messages for name, messages in errors.items() if messages}
    if errors:
        raise ValidationError(errors)
    user.email = email
    user.is_active = True
    fields = ["email", "is_active"]
    # Only a new password is set: setting one ends the admin's sessions and platform tokens
    # (accounts.sessions), and a re-run of an idempotent bootstrap must not.
    if not user.check_password(password):
        user.set_password(password)
        fields.append("password")
    user.save(update_fields=fields)


# ---------------------------------------------------------------------------------------------
# Permissions and roles
# ---------------------------------------------------------------------------------------------
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
            **access.audit_actor,
            target=provider,
            details={"name": name},
            meta=meta,
        )
    return provider


# ---------------------------------------------------------------------------------------------
# Users asserted by an identity provider (RFC 7523 jwt-bearer, SPEC §5)
# ---------------------------------------------------------------------------------------------
def _field_error(field: str, message: str, code: str) -> ValidationError:
    """A field error whose `code` callers can branch on (`error_dict[field][0].code`)."""
    return ValidationError({field: ValidationError(message, code=code)})


def _federated_fields(
    *, username: str, email: str, first_name: str, last_name: str
) -> dict[str, str]:
    fields = _clean_user_fields(
        username=username, email=email, first_name=first_name, last_name=last_name
    )
    try:
        if not fields["username"] or len(fields["username"]) > 150:
            raise ValidationError(USERNAME_INVALID)
        UnicodeUsernameValidator(message=USERNAME_INVALID)(fields["username"])
    except ValidationError as exc:
        raise _field_error("username", USERNAME_INVALID, "username_invalid") from exc
    if fields["email"] and _email_errors(fields["email"]):
        raise _field_error("email", EMAIL_INVALID, "email_invalid")
    for name in ("first_name", "last_name"):
        if len(fields[name]) > 150 or _has_control_characters(fields[name]):
            raise _field_error(name, PERSON_NAME_TOO_LONG, "name_invalid")
    return fields


@dataclass
class FederatedUser:
    """The user an identity provider's assertion names, worked out without writing anything:
    `user` is unsaved when `created`; `changed` lists the profile fields the assertion updates.
    `federated_user_save` writes it, in the caller's transaction, once every check passed."""

    provider: IdentityProvider
    user: User
    created: bool
    changed: list[str]


def federated_user_resolve(
    *, provider: IdentityProvider, username: str, email: str, first_name: str, last_name: str
) -> FederatedUser:
    """The user `provider` asserts as `username` (SPEC §5, "who an assertion may name").

    Invariant: only the provider's own link reaches a user. A username that belongs to any
    other account (a local account, another provider's user, anyone in another org) is
    refused (ValidationError, code `username_taken`) and that account is neither read back
    to the caller nor changed. A deactivated linked user is refused (`inactive`). Writes
    nothing."""
    fields = _federated_fields(
        username=username, email=email, first_name=first_name, last_name=last_name
    )
    link = (
        FederatedIdentity.objects.select_related("user")
        .filter(provider=provider, subject__iexact=fields["username"])
        .first()
    )
    if link is None:
        if User.objects.filter(username__iexact=fields["username"]).exists():
            raise _field_error("username", FEDERATED_USERNAME_TAKEN, "username_taken")
        root_id = provider.organization.root_id_or_self
        user = User(organization_id=root_id, **fields)
        user.set_unusable_password()
        return FederatedUser(provider=provider, user=user, created=True, changed=[])
    user = link.user
    if not user.is_active:
        raise _field_error("username", USER_INACTIVE.format(username=user.username), "inactive")
    # The email of an account that also has a password is the account's own: password
    # resets go there, so an assertion (the app's word alone) never changes it.
    updatable = ("first_name", "last_name")
    if not user.has_usable_password():
        updatable = ("email", *updatable)
    changed = [name for name in updatable if fields[name] and getattr(user, name) != fields[name]]
    for name in changed:
        setattr(user, name, fields[name])
    return FederatedUser(provider=provider, user=user, created=False, changed=changed)


def federated_user_save(
    resolved: FederatedUser, *, actor_app: object | None = None, meta: RequestMeta | None = None
) -> User:
    """Write what `federated_user_resolve` worked out: the new user with their link (and its
    audit event), or the updated profile fields. Call inside the transaction that issues the
    token, after every other check: a refused request leaves no user behind. A concurrent
    assertion that created the same user first is an IntegrityError (the request fails;
    the next one finds the link)."""
    user = resolved.user
    if not resolved.created:
        if resolved.changed:
            user.save(update_fields=resolved.changed)
        return user
    with transaction.atomic():
        user.save(force_insert=True)
        FederatedIdentity.objects.create(
            provider=resolved.provider, user=user, subject=user.username
        )
        audit_record(
            action=AuditAction.USER_CREATED,
            organization_id=user.organization_id,
            organization=None,
            actor=None,
            actor_app=actor_app,
            target=user,
            details={"username": user.username, "identity_provider": str(resolved.provider.id)},
            meta=meta,
        )
    return user


def identity_link_create(
    *, access: Access, provider: IdentityProvider, user: User, meta: RequestMeta | None = None
) -> FederatedIdentity:
    """Link an existing member to `provider` under their username, so the provider's
    assertions reach them (SPEC §5). Only an Organization Administrator of the root org (with
    a full credential) may do it: a link hands the provider, and every app asserting through
    it, the member's account and whatever it holds anywhere in the tree."""
    org = provider.organization
    if not access.holds_everything_in(org.root_organization):
        raise PermissionDenied(IDENTITY_LINK_NEEDS_ADMIN)
    if user.organization_id != org.root_id_or_self:
        raise ValidationError({"user": NOT_A_MEMBER})
    with transaction.atomic():
        link, _ = FederatedIdentity.objects.get_or_create(
            provider=provider, user=user, defaults={"subject": user.username}
        )
        audit_record(
            action=AuditAction.IDENTITY_LINKED,
            organization=org,
            **access.audit_actor,
            target=user,
            details={"identity_provider": str(provider.id), "subject": link.subject},
            meta=meta,
        )
    return link


def identity_link_delete(
    *, access: Access, provider: IdentityProvider, user: User, meta: RequestMeta | None = None
) -> None:
    """Unlink `user` from `provider`: its assertions no longer reach them (tokens already
    issued stay until they expire or are revoked). Root Organization Administrator only, as
    for linking. Idempotent."""
    org = provider.organization
    if not access.holds_everything_in(org.root_organization):
        raise PermissionDenied(IDENTITY_LINK_NEEDS_ADMIN)
    with transaction.atomic():
        deleted, _ = FederatedIdentity.objects.filter(provider=provider, user=user).delete()
        if deleted:
            audit_record(
                action=AuditAction.IDENTITY_UNLINKED,
                organization=org,
                **access.audit_actor,
                target=user,
                details={"identity_provider": str(provider.id)},
                meta=meta,
            )
