"""Audit events: append-only records of every management action and token event (SPEC §7)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models


class AuditAction(models.TextChoices):
    # Organizations and business groups
    ORGANIZATION_CREATED = "organization.created", "Organization created"
    ORGANIZATION_UPDATED = "organization.updated", "Organization updated"
    BUSINESS_GROUP_CREATED = "business_group.created", "Business group created"
    # Environments
    ENVIRONMENT_CREATED = "environment.created", "Environment created"
    # Users and permissions
    USER_CREATED = "user.created", "User created"
    USER_PERMISSIONS_CHANGED = "user.permissions_changed", "User permissions changed"
    USER_DISABLED = "user.disabled", "User disabled"
    USER_ENABLED = "user.enabled", "User enabled"
    USER_PASSWORD_RESET_SENT = "user.password_reset_sent", "Password reset email sent"
    USER_REMOVED = "user.removed", "User removed"
    USER_PROFILE_CHANGED = "user.profile_changed", "Profile changed"
    FACTOR_ADDED = "user.factor_added", "Sign-in factor added"
    FACTOR_REMOVED = "user.factor_removed", "Sign-in factor removed"
    FACTOR_RESET = "user.factor_reset", "Recovery codes regenerated"
    SESSION_ENDED = "user.session_ended", "Signed out (sessions ended)"
    # Identity providers
    IDENTITY_PROVIDER_CREATED = "identity_provider.created", "Identity provider created"
    IDENTITY_PROVIDER_CHANGED = "identity_provider.changed", "Identity provider changed"
    IDENTITY_PROVIDER_DELETED = "identity_provider.deleted", "Identity provider deleted"
    SSO_SIGNED_IN = "user.sso_signed_in", "Signed in through single sign-on"
    SSO_SIGN_IN_REFUSED = "user.sso_sign_in_refused", "Single sign-on refused"
    IDENTITY_LINKED = "identity_provider.user_linked", "User linked to identity provider"
    IDENTITY_UNLINKED = "identity_provider.user_unlinked", "User unlinked from identity provider"
    # Connected apps
    APP_CREATED = "app.created", "App created"
    APP_UPDATED = "app.updated", "App changed"
    APP_DELETED = "app.deleted", "App deleted"
    APP_SECRET_ROTATED = "app.secret_rotated", "App secret rotated"
    APP_SCOPES_CHANGED = "app.scopes_changed", "App scopes changed"
    # Authorizations and tokens
    AUTHORIZATION_GRANTED = "authorization.granted", "Authorization granted"
    AUTHORIZATION_REVOKED = "authorization.revoked", "Authorization revoked"
    TOKEN_ISSUED = "token.issued", "Token issued"
    TOKEN_REFRESHED = "token.refreshed", "Token refreshed"
    TOKEN_REVOKED = "token.revoked", "Token revoked"
    TOKEN_REFUSED = "token.refused", "Token refused"
    # Org controls (connected apps)
    ORG_APPS_SETTINGS_CHANGED = "org.apps_settings_changed", "Connected apps settings changed"
    ALLOWLIST_APPROVED = "allowlist.approved", "App allowlisted"
    ALLOWLIST_REMOVED = "allowlist.removed", "App removed from the allowlist"
    AUTHORIZATIONS_REVOKED_FOR_ORG = "authorization.revoked_for_org", "App revoked for the org"
    # Sign-in policy
    ORG_SECURITY_POLICY_CHANGED = "org.security_policy_changed", "Sign-in policy changed"


class AuditOutcome(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"


class AuditEvent(models.Model):
    """One event. Never holds a secret or a token value in `details`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # No `choices` here: new event types must not need a migration.
    action = models.CharField(max_length=64)
    outcome = models.CharField(
        max_length=16, choices=AuditOutcome.choices, default=AuditOutcome.SUCCESS
    )
    # Rows are append-only (a PostgreSQL trigger refuses UPDATE): deleting a user or an org
    # must not touch them, so these keep the id with no database constraint and no SET NULL.
    organization = models.ForeignKey(
        "accounts.Organization",
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,  # the (organization, created_at) index serves it
        related_name="+",
    )
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,  # Meta.indexes
        related_name="+",
    )
    # The client_id of an acting app: a plain value, so audit depends on no other app.
    actor_client_id = models.CharField(max_length=100, blank=True)
    # The client_id of the app the event is about when that is not the acting app (created,
    # changed, allowlisted, a user's consent to it...): with actor_client_id, every event of
    # an app's history is one indexed match on either column (audit.selectors), even after
    # the app is deleted. NULL, not "", when there is none: the partial index skips the token
    # events (the acting app is their subject), which pay for every index on the hot path,
    # and `= <any value>` implies IS NOT NULL for the planner even in a generic plan.
    subject_client_id = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    actor_name = models.CharField(max_length=150, blank=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    details = models.JSONField(default=dict, encoder=DjangoJSONEncoder)

    class Meta:
        ordering = ["-created_at"]
        # Every token request appends an event, paying one entry per index: these are the
        # filters the audit log offers (exact matches only, so no LIKE indexes), and the
        # actor-user index skips the many events no user acted in.
        indexes = [
            models.Index(fields=["organization", "created_at"]),
            models.Index(fields=["action"], name="audit_event_action"),
            models.Index(fields=["actor_client_id"], name="audit_event_actor_client"),
            models.Index(
                fields=["subject_client_id"],
                condition=models.Q(subject_client_id__isnull=False),
                name="audit_event_subject_client",
            ),
            models.Index(
                fields=["actor_user"],
                condition=models.Q(actor_user__isnull=False),
                name="audit_event_actor_user_set",
            ),
            # An app's refused token requests per day (its page's usage chart): partial, so
            # only refusals pay for it, never the issued tokens of the hot path; the count is
            # read from the index alone, whatever else the app did.
            models.Index(
                fields=["actor_client_id", "created_at"],
                condition=models.Q(action="token.refused"),
                name="audit_event_app_refusals",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.target_type}:{self.target_id}"


class AuditExportStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class AuditExport(models.Model):
    """A background CSV export of an org's audit events (audit.tasks.audit_export_run)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="+"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The validated query filters (audit.selectors.AuditFilters.as_json()).
    filters = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    status = models.CharField(
        max_length=16, choices=AuditExportStatus.choices, default=AuditExportStatus.PENDING
    )
    progress = models.PositiveSmallIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    row_count = models.PositiveIntegerField(default=0)
    csv = models.TextField(blank=True)
    error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"export {self.id} ({self.status})"
