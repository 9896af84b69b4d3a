"""Connected apps: django-oauth-toolkit's application model, swapped for ours (SPEC §2).

DOT's stock application holds one grant type; a connected app holds several (`grant_types`,
RFC names) and is owned by an org or BG rather than a user. DOT's `user` field records the
creator: a client-credentials app acts with its creator's profile (SPEC §3).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.models import Q
from oauth2_provider.models import AbstractApplication

from accounts.models import Environment, Organization


class GrantType(models.TextChoices):
    AUTHORIZATION_CODE = "authorization_code", "Authorization code"
    REFRESH_TOKEN = "refresh_token", "Refresh token"
    PASSWORD = "password", "Password"
    JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer", "JWT bearer"
    CLIENT_CREDENTIALS = "client_credentials", "Client credentials"


# DOT's internal grant names -> ours, for DOT code paths that still call allows_grant_type().
_DOT_GRANT_NAMES = {
    AbstractApplication.GRANT_AUTHORIZATION_CODE: GrantType.AUTHORIZATION_CODE,
    AbstractApplication.GRANT_PASSWORD: GrantType.PASSWORD,
    AbstractApplication.GRANT_CLIENT_CREDENTIALS: GrantType.CLIENT_CREDENTIALS,
}


class Audience(models.TextChoices):
    INTERNAL = "internal", "Members of the owner's organization"
    EVERYONE = "everyone", "Any platform user"


def _signing_key_missing() -> Any:
    raise ImproperlyConfigured("The oauth app provides the OIDC signing key when it is ready.")


class ConnectedApp(AbstractApplication):
    # DOT's `user`: here the creator, whose profile an own-behalf app acts with. Deleting the
    # creator must not delete an app the organization owns.
    user = models.ForeignKey(
        "accounts.User",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="created_connected_apps",
    )
    authorization_grant_type = models.CharField(
        max_length=44, blank=True, default="", choices=AbstractApplication.GRANT_TYPES
    )
    algorithm = models.CharField(
        max_length=5, blank=True, default="RS256", choices=AbstractApplication.ALGORITHM_TYPES
    )
    grant_types = models.JSONField(default=list)
    public_keys = models.JSONField(default=list, blank=True)
    owner_org = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="connected_apps"
    )
    root_org = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    audience = models.CharField(max_length=16, choices=Audience.choices, default=Audience.INTERNAL)
    website_url = models.URLField(max_length=500, blank=True)
    enabled = models.BooleanField(default=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # When a redirect URI or a grant type was last added: consent given before it is not
    # remembered (the codes may now go elsewhere), so the user sees the screen again.
    consent_reset_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["root_org", "name"])]

    def __str__(self) -> str:
        return self.name

    # -- DOT seams -----------------------------------------------------------------------------
    def clean(self) -> None:
        """Validation lives in connected_apps.services; DOT's rules key off one grant type."""

    def is_usable(self, request) -> bool:
        return self.enabled

    def allows_grant_type(self, *grant_types: str) -> bool:
        return any(_DOT_GRANT_NAMES.get(g, g) in self.grant_types for g in grant_types)

    def redirect_uri_allowed(self, uri: str) -> str | None:
        """Exact string match against a registered URI (SPEC §2), nothing looser."""
        return uri if uri in self.redirect_uris.split() else None

    # DOT signs and checks ID tokens with `app.jwk_key`, but the key is the server's: oauth,
    # which builds on this app, sets where it comes from (oauth.apps, oauth.keys.active_jwk).
    signing_key_source: ClassVar[Callable[[], Any]] = staticmethod(_signing_key_missing)

    @property
    def jwk_key(self):
        """The server's active OIDC signing key (DOT reads the key through the app)."""
        return self.signing_key_source()

    # -- one-liners ----------------------------------------------------------------------------
    @property
    def acts_on_own_behalf(self) -> bool:
        return GrantType.CLIENT_CREDENTIALS in self.grant_types

    def acts_for_nobody(self, *, creator_active: bool | None) -> bool:
        """An own-behalf app acts with its creator's profile (SPEC §3): once the creator is
        removed or disabled it has none (a disabled user holds no power, SPEC §10), and it
        neither gets a token nor may use one. `creator_active`: the creator's is_active, as
        the caller read it with the app (None without a creator)."""
        return self.acts_on_own_behalf and (self.user_id is None or not creator_active)


class AppScope(models.Model):
    """A scope an app holds; for own-behalf apps, in an org/BG (and environment) context."""

    app = models.ForeignKey(ConnectedApp, on_delete=models.CASCADE, related_name="scope_grants")
    scope = models.CharField(max_length=64)
    context_org = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    context_environment = models.ForeignKey(
        Environment, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["app", "scope"],
                condition=Q(context_org__isnull=True, context_environment__isnull=True),
                name="app_scope_unique_without_context",
            ),
            models.UniqueConstraint(
                fields=["app", "scope", "context_org"],
                condition=Q(context_org__isnull=False, context_environment__isnull=True),
                name="app_scope_unique_per_org",
            ),
            models.UniqueConstraint(
                fields=["app", "scope", "context_org", "context_environment"],
                condition=Q(context_environment__isnull=False),
                name="app_scope_unique_per_environment",
            ),
        ]

    def __str__(self) -> str:
        return self.scope


class Authorization(models.Model):
    """A user's consent to an app: the scopes they allowed. Revoking it kills its tokens."""

    user = models.ForeignKey(
        "accounts.User", on_delete=models.CASCADE, related_name="app_authorizations"
    )
    app = models.ForeignKey(ConnectedApp, on_delete=models.CASCADE, related_name="authorizations")
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "app"],
                condition=Q(revoked_at__isnull=True),
                name="authorization_one_live_per_user_app",
            ),
        ]
        indexes = [models.Index(fields=["app", "revoked_at"])]

    def __str__(self) -> str:
        return f"{self.user_id} → {self.app_id}"


class AppUsageDay(models.Model):
    """Tokens issued to an app on one UTC day: one UPSERT per issuance, read by the usage
    chart without counting over the token table."""

    app = models.ForeignKey(ConnectedApp, on_delete=models.CASCADE, related_name="usage_days")
    day = models.DateField()
    tokens_issued = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["app", "day"], name="app_usage_one_row_per_day"),
        ]

    def __str__(self) -> str:
        return f"{self.app_id} {self.day}: {self.tokens_issued}"


class OrgAppSettings(models.Model):
    """A root org's connected-apps controls (SPEC §6). No row means the defaults: the
    feature on, the allowlist off."""

    organization = models.OneToOneField(
        Organization,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="connected_app_settings",
    )
    enabled = models.BooleanField(default=True)
    allowlist_enabled = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.organization_id}: enabled={self.enabled} allowlist={self.allowlist_enabled}"


class AllowlistEntry(models.Model):
    """An app a root org allows to access its users, with the scope set an admin approved."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="app_allowlist"
    )
    app = models.ForeignKey(
        ConnectedApp, on_delete=models.CASCADE, related_name="allowlist_entries"
    )
    approved_scopes = models.JSONField(default=list)
    approved_at = models.DateTimeField()
    approved_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["app__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "app"], name="allowlist_one_entry_per_org_app"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organization_id} allows {self.app_id}"
