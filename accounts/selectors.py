"""Reads of tenant data. Every function is scoped by the caller's `Access`.

Objects outside the caller's root organization do not exist for them (`Http404`); objects
inside it that they lack the permission for are refused (`PermissionDenied`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from allauth.mfa.models import Authenticator
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, Q, QuerySet
from django.http import Http404

from accounts.access import Access
from accounts.catalog import Permission, Role
from accounts.models import (
    Environment,
    FederatedIdentity,
    IdentityProvider,
    Organization,
    PermissionGrant,
    RoleGrant,
    User,
)


def audit_org_get(*, access: Access, org_id: object) -> Organization:
    """The org/BG whose audit log the caller may read: 404 outside their tree, 403 without
    read:audit_logs there."""
    org = organization_get(access=access, org_id=org_id)
    access.require(Permission.READ_AUDIT_LOGS, org)
    return org


def _as_uuid(value: object) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise Http404("Not found.") from exc


def organization_get(*, access: Access, org_id: object) -> Organization:
    """The org/BG with this id inside the caller's tree; 404 for anything else."""
    root_id = access.root_org_id
    org = (
        Organization.objects.filter(id=_as_uuid(org_id))
        .filter(Q(id=root_id) | Q(root_id=root_id))
        .select_related("parent")
        .first()
    )
    if org is None:
        raise Http404("Organization not found.")
    return org


def root_org_administered(
    *, access: Access, org_id: object, not_root: str, not_admin: str
) -> Organization:
    """The root org `org_id` of which the caller is Organization Administrator: 404 outside
    the caller's tenant or for a business group (`not_root`), 403 for anyone else
    (`not_admin`, with `{org}` for its name). What a root org's own settings need."""
    org = organization_get(access=access, org_id=org_id)
    if org.parent_id is not None:
        raise Http404(not_root)
    if not access.is_admin_of(org):
        raise PermissionDenied(not_admin.format(org=org.name))
    return org


def organization_read(*, access: Access, org_id: object) -> Organization:
    """`organization_get` plus the read:organization check."""
    org = organization_get(access=access, org_id=org_id)
    access.require(Permission.READ_ORGANIZATION, org)
    return org


def organization_tree(*, access: Access) -> list[Organization]:
    """Every org/BG of the caller's tree they hold any permission or role in, in tree order."""
    root_id = access.root_org_id
    orgs = list(Organization.objects.filter(Q(id=root_id) | Q(root_id=root_id)).order_by("path"))
    granted = {org_id for org_id, held in access.grants.items() if held}
    return [o for o in orgs if o.id in granted or access.is_admin_of(o)]


def business_group_list(*, access: Access, org: Organization) -> QuerySet[Organization]:
    """Direct children of `org`; needs read:organization there."""
    access.require(Permission.READ_ORGANIZATION, org)
    return Organization.objects.filter(parent=org).order_by("name")


def environment_list(*, access: Access, org: Organization) -> QuerySet[Environment]:
    """Environments of `org` the caller may view (all of them, or those granted one by one)."""
    if not access.can_somewhere_in(Permission.VIEW_ENVIRONMENT, org):
        access.require(Permission.VIEW_ENVIRONMENT, org)
    environments = Environment.objects.filter(organization=org).order_by("name")
    allowed = access.environment_ids(Permission.VIEW_ENVIRONMENT, org)
    if allowed is not None:
        environments = environments.filter(id__in=[i for i in allowed if i])
    return environments


def user_list(*, access: Access, org: Organization, search: str = "") -> QuerySet[User]:
    """Members of `org`'s root organization; needs read:users at `org`."""
    access.require(Permission.READ_USERS, org)
    users = User.objects.filter(organization_id=org.root_id_or_self).order_by("username")
    if "\x00" in search:
        return users.none()  # no field can hold NUL, and PostgreSQL refuses it in a query
    if search:
        users = users.filter(
            Q(username__icontains=search)
            | Q(email__icontains=search)
            | Q(first_name__icontains=search)
            | Q(last_name__icontains=search)
        )
    return users


def user_get(*, access: Access, org: Organization, user_id: object) -> User:
    """One member of `org`'s root organization; needs read:users at `org`."""
    user = user_list(access=access, org=org).filter(id=_as_uuid(user_id)).first()
    if user is None:
        raise Http404("User not found.")
    return user


@dataclass(frozen=True)
class UserPermissions:
    permissions: list[str]
    environments: list[str]
    role: str | None


def user_permissions_get(*, access: Access, org: Organization, user: User) -> UserPermissions:
    """What `user` holds at `org`: permission names, environment ids, role."""
    access.require(Permission.READ_USERS, org)
    grants = list(
        PermissionGrant.objects.filter(user=user, organization=org).values_list(
            "permission", "environment_id"
        )
    )
    role = (
        RoleGrant.objects.filter(user=user, organization=org).values_list("role", flat=True).first()
    )
    order = {p: i for i, p in enumerate(Permission.values)}
    return UserPermissions(
        permissions=sorted({p for p, _ in grants}, key=order.__getitem__),
        environments=sorted({str(e) for _, e in grants if e}),
        role=role,
    )


def identity_provider_list(*, access: Access, org: Organization) -> QuerySet[IdentityProvider]:
    """Identity providers of `org`; needs read:organization there."""
    access.require(Permission.READ_ORGANIZATION, org)
    return IdentityProvider.objects.filter(organization=org).order_by("name")


def identity_provider_get(
    *, access: Access, org: Organization, provider_id: object
) -> IdentityProvider:
    """One identity provider of `org`; needs read:organization there; 404 otherwise."""
    provider = (
        identity_provider_list(access=access, org=org)
        .select_related("organization")
        .filter(id=_as_uuid(provider_id))
        .first()
    )
    if provider is None:
        raise Http404("Identity provider not found.")
    return provider


def identity_link_list(
    *, access: Access, provider: IdentityProvider
) -> QuerySet[FederatedIdentity]:
    """The users `provider` reaches (SPEC §5), newest first; needs read:users at its org."""
    access.require(Permission.READ_USERS, provider.organization)
    return (
        FederatedIdentity.objects.filter(provider=provider)
        .select_related("user")
        .order_by("-created_at", "-id")
    )


def user_power_within(user: User, org: Organization) -> bool:
    """Whether every role and permission `user` holds lies in `org` or below it: whoever
    controls `org` could then do anything `user` can (two indexed EXISTS, one statement)."""
    outside = ~Q(organization__path__startswith=org.path)
    roles = RoleGrant.objects.filter(outside, user=user)
    permissions = PermissionGrant.objects.filter(outside, user=user)
    held_outside = (
        User.objects.filter(pk=user.pk).values_list(Exists(roles), Exists(permissions)).first()
    )
    return held_outside is None or not any(held_outside)


def administrators_of(org: Organization) -> QuerySet[User]:
    """Users holding Organization Administrator at `org` itself."""
    return User.objects.filter(
        role_grants__organization=org, role_grants__role=Role.ORGANIZATION_ADMINISTRATOR
    )


# -- the viewer's own account ---------------------------------------------------------------
@dataclass(frozen=True)
class Membership:
    """What the viewer was granted in one org/BG of their tree (a role there also reaches
    every business group below it)."""

    org: Organization
    roles: list[str]
    permissions: list[str]


def account_memberships(*, access: Access) -> list[Membership]:
    """The orgs/BGs where the viewer holds a role or a permission, in tree order: their own
    grants only, inside their own root organization only."""
    root_id = access.root_org_id
    in_tree = Q(organization_id=root_id) | Q(organization__root_id=root_id)
    role_grants = RoleGrant.objects.filter(in_tree, user=access.user)
    permission_grants = PermissionGrant.objects.filter(in_tree, user=access.user)
    roles: dict[uuid.UUID, set[str]] = {}
    for org_id, role in role_grants.values_list("organization_id", "role"):
        roles.setdefault(org_id, set()).add(role)
    permissions: dict[uuid.UUID, set[str]] = {}
    for org_id, permission in permission_grants.values_list("organization_id", "permission"):
        permissions.setdefault(org_id, set()).add(permission)
    order = {p: i for i, p in enumerate(Permission.values)}
    orgs = Organization.objects.filter(id__in=roles.keys() | permissions.keys()).order_by("path")
    return [
        Membership(
            org=org,
            roles=sorted(roles.get(org.id, ())),
            permissions=sorted(permissions.get(org.id, ()), key=order.__getitem__),
        )
        for org in orgs
    ]


@dataclass(frozen=True)
class FactorSummary:
    """Which second factors a user has set up (allauth.mfa's authenticators), never their
    secrets: `recovery_codes_left` is None when they have no recovery codes."""

    totp: bool
    security_keys: int
    passkeys: int
    recovery_codes_left: int | None

    @property
    def enrolled(self) -> bool:
        """Whether any second factor is set up (recovery codes alone are not one)."""
        return self.totp or self.security_keys > 0 or self.passkeys > 0


def account_factors(*, user: User) -> FactorSummary:
    """`user`'s own second factors, counted. A WebAuthn credential the authenticator keeps
    for passwordless sign-in (a resident key) is a passkey, any other a security key."""
    totp, keys, passkeys, codes_left = False, 0, 0, None
    for authenticator in Authenticator.objects.filter(user=user).order_by("created_at"):
        if authenticator.type == Authenticator.Type.TOTP:
            totp = True
        elif authenticator.type == Authenticator.Type.WEBAUTHN:
            if authenticator.wrap().is_passwordless:
                passkeys += 1
            else:
                keys += 1
        elif authenticator.type == Authenticator.Type.RECOVERY_CODES:
            codes_left = len(authenticator.wrap().get_unused_codes())
    return FactorSummary(
        totp=totp, security_keys=keys, passkeys=passkeys, recovery_codes_left=codes_left
    )


def account_identity_providers(*, user: User) -> list[str]:
    """Names of the identity providers that sign `user` in (SPEC §5), alphabetically."""
    return list(
        FederatedIdentity.objects.filter(user=user)
        .order_by("provider__name")
        .values_list("provider__name", flat=True)
    )
