"""The permission check every page and API call goes through.

`Access` answers "may this caller do P in org O (and environment E)?". It loads the user's
grants and roles in two queries the first time it is asked and answers every later question
from memory, so a page that checks fifty rows costs no extra queries.

A caller's power is the user's permissions, narrowed by the scopes of the credential they came
with: an interactive session carries no scope restriction (`scopes=None`); a bearer token
carries its effective scopes (SPEC §3: `full`, `read:full` or permission scopes).

Rules:
- `Organization Administrator` of an org/BG holds every permission there and in every BG below.
- A plain permission grant applies to the org/BG it was granted in only (as in Anypoint).
- A permission implies its read-only counterpart (`edit:environment` ⇒ `view:environment`).
- An environment-scoped permission granted without an environment covers every environment of
  that org/BG; granted with one, it covers that environment only.
- Nothing outside the caller's own root organization is ever visible.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property

from django.core.exceptions import PermissionDenied

from accounts.catalog import (
    PERMISSIONS,
    Permission,
    Role,
    SpecialScope,
    permissions_implying,
)
from accounts.models import Environment, Organization, PermissionGrant, RoleGrant, User

ALL_ENVIRONMENTS = None


@dataclass
class Access:
    user: User
    scopes: frozenset[str] | None = None
    _grants: dict[uuid.UUID, dict[str, set[uuid.UUID | None]]] | None = field(
        default=None, init=False, repr=False
    )

    # -- loading -------------------------------------------------------------------------------
    @cached_property
    def admin_paths(self) -> tuple[str, ...]:
        """Paths of the orgs/BGs where the user is Organization Administrator.

        The grants are loaded with them, so the first question costs both queries and every
        later one, about any org administered or not, costs none.
        """
        self._load_grants()
        return tuple(
            RoleGrant.objects.filter(
                user=self.user, role=Role.ORGANIZATION_ADMINISTRATOR
            ).values_list("organization__path", flat=True)
        )

    @property
    def grants(self) -> dict[uuid.UUID, dict[str, set[uuid.UUID | None]]]:
        """{org id: {permission: {environment id, or None for every environment}}}."""
        return self._load_grants()

    def _load_grants(self) -> dict[uuid.UUID, dict[str, set[uuid.UUID | None]]]:
        if self._grants is None:
            grants: dict[uuid.UUID, dict[str, set[uuid.UUID | None]]] = defaultdict(
                lambda: defaultdict(set)
            )
            for org_id, permission, environment_id in PermissionGrant.objects.filter(
                user=self.user
            ).values_list("organization_id", "permission", "environment_id"):
                grants[org_id][permission].add(environment_id)
            self._grants = grants
        return self._grants

    # -- scopes --------------------------------------------------------------------------------
    @property
    def full_credential(self) -> bool:
        """A session, or a token holding `full`: everything the user may do."""
        return self.scopes is None or SpecialScope.FULL in self.scopes

    def scope_allows(self, permission: Permission) -> bool:
        """Whether the credential's scopes cover `permission` (a session covers everything)."""
        if self.full_credential:
            return True
        if SpecialScope.READ_FULL in self.scopes and PERMISSIONS[permission].read_only:
            return True
        return any(p.value in self.scopes for p in permissions_implying(permission))

    @property
    def audit_actor(self) -> dict:
        """Who the audit trail names for changes made with this access."""
        return {"actor": self.user}

    # -- questions -----------------------------------------------------------------------------
    @property
    def root_org_id(self) -> uuid.UUID:
        """The root organization whose tree is all this caller can ever see."""
        return self.user.organization_id

    def in_tenant(self, org: Organization) -> bool:
        return org.root_id_or_self == self.root_org_id

    def is_admin_of(self, org: Organization) -> bool:
        """Organization Administrator of `org` or of any org above it (scopes not considered)."""
        return self.in_tenant(org) and any(org.path.startswith(p) for p in self.admin_paths)

    def holds_everything_in(self, org: Organization) -> bool:
        """Organization Administrator of `org` (or above) with a session or a `full` token: the
        only caller who may confer the role, `full` or `read:full` there. A token holding
        every permission scope is still not `full` (it cannot, for one, manage the role)."""
        return self.full_credential and self.is_admin_of(org)

    def _user_environment_ids(
        self, permission: Permission, org: Organization
    ) -> set[uuid.UUID | None]:
        held = self.grants.get(org.id, {})
        environment_ids: set[uuid.UUID | None] = set()
        for candidate in permissions_implying(permission):
            environment_ids |= held.get(candidate.value, set())
        return environment_ids

    def can(
        self,
        permission: Permission,
        org: Organization,
        environment: Environment | None = None,
    ) -> bool:
        """May the caller use `permission` in `org` (and, if given, in `environment`)?"""
        if not self.in_tenant(org) or not self.scope_allows(permission):
            return False
        if environment is not None and environment.organization_id != org.id:
            return False  # an environment is only ever asked about in its own org
        if self.is_admin_of(org):
            return True
        environment_ids = self._user_environment_ids(permission, org)
        if ALL_ENVIRONMENTS in environment_ids:
            return True
        if environment is not None and PERMISSIONS[permission].environment_scoped:
            return environment.id in environment_ids
        return False

    def can_somewhere_in(self, permission: Permission, org: Organization) -> bool:
        """Like `can`, but an environment-scoped grant on any one environment is enough."""
        if self.can(permission, org):
            return True
        return (
            self.in_tenant(org)
            and self.scope_allows(permission)
            and PERMISSIONS[permission].environment_scoped
            and bool(self._user_environment_ids(permission, org))
        )

    def environment_ids(
        self, permission: Permission, org: Organization
    ) -> set[uuid.UUID | None] | None:
        """Environments of `org` the caller may use `permission` in; None means all of them."""
        if self.can(permission, org):
            return ALL_ENVIRONMENTS
        if not (self.in_tenant(org) and self.scope_allows(permission)):
            return set()
        return self._user_environment_ids(permission, org)

    def require(
        self, permission: Permission, org: Organization, environment: Environment | None = None
    ) -> None:
        """Raise PermissionDenied unless `can(permission, org, environment)`."""
        if not self.can(permission, org, environment):
            raise PermissionDenied(f"You need {permission.value} in {org.name}.")

    def held_permissions(self, org: Organization) -> set[Permission]:
        """Every permission the caller can use at `org` org-wide."""
        return {p for p in Permission if self.can(p, org)}


def access_for(user: User, scopes: frozenset[str] | None = None) -> Access:
    """The Access of `user`, memoised on the user object for the length of a request."""
    if scopes is None:
        cached = getattr(user, "_doorman_access", None)
        if cached is None:
            cached = Access(user=user)
            user._doorman_access = cached
        return cached
    return Access(user=user, scopes=scopes)
