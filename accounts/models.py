"""Organizations, business groups, environments, users, permission grants, identity providers.

An organization tree is stored with a materialized path (`/root-uuid/bg-uuid/…/`): the subtree
of an org is one indexed `path LIKE 'prefix%'` query, and every row carries its root org so a
tenant filter is one equality.
"""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractUser
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from accounts.catalog import Permission, Role


class Organization(models.Model):
    """A root organization (parent is null) or a business group at any depth below one."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    root = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="tree"
    )
    path = models.CharField(max_length=2000, db_index=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(
                fields=["parent", "name"],
                condition=Q(parent__isnull=False),
                name="organization_unique_sibling_name",
            ),
            models.UniqueConstraint(
                Lower("name"),
                condition=Q(parent__isnull=True),
                name="organization_unique_root_name",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_root(self) -> bool:
        return self.parent_id is None

    @property
    def root_id_or_self(self) -> uuid.UUID:
        return self.root_id or self.id

    @property
    def root_organization(self) -> Organization:
        """The root org of this org's tree: itself, or (one query) its `root`."""
        return self if self.is_root else self.root

    @property
    def depth(self) -> int:
        return self.path.count("/") - 2

    @property
    def ancestor_ids(self) -> list[uuid.UUID]:
        """Ids from the root down to and including this org."""
        return [uuid.UUID(part) for part in self.path.strip("/").split("/")]


class EnvironmentType(models.TextChoices):
    PRODUCTION = "production", "Production"
    SANDBOX = "sandbox", "Sandbox"


class Environment(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="environments"
    )
    name = models.CharField(max_length=100)
    type = models.CharField(max_length=20, choices=EnvironmentType.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"], name="environment_unique_name_per_org"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A platform user: one root organization, an id that never changes."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="members")
    email = models.EmailField("email address")

    REQUIRED_FIELDS = ["email"]

    class Meta:
        ordering = ["username"]
        indexes = [models.Index(fields=["organization", "username"])]
        constraints = [
            # The services compare usernames case-insensitively; the database makes it so
            # under concurrency too.
            models.UniqueConstraint(Lower("username"), name="user_unique_username_ci"),
        ]

    @property
    def created_at(self):
        return self.date_joined


class PermissionGrant(models.Model):
    """One permission held by a user in one org/BG, optionally narrowed to one environment.

    For environment-scoped permissions a null environment means every environment of the org.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="permission_grants")
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="permission_grants"
    )
    permission = models.CharField(max_length=64, choices=Permission.choices)
    environment = models.ForeignKey(
        Environment, null=True, blank=True, on_delete=models.CASCADE, related_name="grants"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organization", "permission"],
                condition=Q(environment__isnull=True),
                name="grant_unique_org_wide",
            ),
            models.UniqueConstraint(
                fields=["user", "organization", "permission", "environment"],
                condition=Q(environment__isnull=False),
                name="grant_unique_per_environment",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.permission} @ {self.organization_id}"


class RoleGrant(models.Model):
    """A role held by a user in one org/BG; Organization Administrator covers the subtree."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="role_grants")
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="role_grants"
    )
    role = models.CharField(max_length=64, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organization", "role"], name="role_grant_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role} @ {self.organization_id}"


class IdentityProviderType(models.TextChoices):
    JWT = "jwt", "JWT bearer"
    OIDC = "oidc", "OpenID Connect"
    SAML = "saml", "SAML 2.0"


# The types that sign people in (company single sign-on), as opposed to `jwt`.
SSO_PROVIDER_TYPES = (IdentityProviderType.OIDC, IdentityProviderType.SAML)


class IdentityProvider(models.Model):
    """An identity provider of an org (SPEC §5, §11).

    `jwt`: a name that apps' jwt-bearer `sub` claims point at. `oidc` and `saml`: the org's
    company single sign-on, whose settings (`config`, see accounts.sso_config) say where the
    upstream provider is and how its claims map to a user. The OpenID Connect client secret is
    kept sealed (core.sealing): Doorman must present it upstream, so it cannot be a digest,
    and a copy of the table alone opens nothing. `domains` are the email domains whose people
    the sign-in page sends to this provider (home-realm discovery).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="identity_providers"
    )
    name = models.CharField(max_length=100)
    type = models.CharField(
        max_length=8, choices=IdentityProviderType.choices, default=IdentityProviderType.JWT
    )
    config = models.JSONField(default=dict, blank=True)
    client_secret_sealed = models.TextField(blank=True, default="")
    domains = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"], name="identity_provider_unique_name"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_sso(self) -> bool:
        return self.type in SSO_PROVIDER_TYPES


class FederatedIdentity(models.Model):
    """A user's link to an identity provider: the provider names them `subject` (SPEC §5).

    An assertion reaches a user only through this link, never by a username that happens to
    match: a local account, or another provider's user, cannot be taken over by asserting its
    username. The link is made when the provider's first assertion creates the user, or by an
    administrator of the provider's org.
    """

    provider = models.ForeignKey(
        IdentityProvider, on_delete=models.CASCADE, related_name="identities"
    )
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="federated_identities")
    subject = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                "provider", Lower("subject"), name="federated_identity_unique_subject"
            ),
            models.UniqueConstraint(
                fields=["provider", "user"], name="federated_identity_one_per_provider"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject} @ {self.provider_id}"


class PortalSession(AbstractBaseSession):
    """A portal (cookie) session, stored by accounts.sessions.SessionStore.

    `session_key` holds the SHA-256 digest of the key, never the key: the cookie carries the
    key, so a copy of this table signs nobody in (issue 12). `user` is who signed in, so a
    user's sessions can be found and ended; it has no database constraint because a session
    may be saved naming a user deleted a moment before, and a constraint would refuse it.
    """

    session_key = models.CharField("session key digest", max_length=64, primary_key=True)
    user = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        db_constraint=False,
        related_name="portal_sessions",
    )

    @classmethod
    def get_session_store_class(cls):
        from accounts.sessions import SessionStore  # the store names this model: Django's way

        return SessionStore


class MfaRequirement(models.TextChoices):
    OFF = "off", "Off"
    ADMINS = "admins", "Administrators"
    EVERYONE = "everyone", "Everyone"


class OrgSecurityPolicy(models.Model):
    """A root org's sign-in policy (SPEC §11). No row means the defaults: a second factor is
    nobody's obligation, SSO not enforced."""

    organization = models.OneToOneField(
        Organization, primary_key=True, on_delete=models.CASCADE, related_name="security_policy"
    )
    mfa_required = models.CharField(
        max_length=16, choices=MfaRequirement.choices, default=MfaRequirement.OFF
    )
    sso_enforced = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.organization_id}: mfa={self.mfa_required} sso={self.sso_enforced}"
