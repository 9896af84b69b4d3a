"""Input and output serializers of the accounts API (SPEC §4), in Anypoint's camelCase: the
views parse bodies and render answers with them, and drf-spectacular documents them. The
audit API's (accounts.api_audit) answer shapes are at the end."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from accounts.catalog import Permission, Role
from accounts.models import EnvironmentType, IdentityProviderType, MfaRequirement
from audit.models import AuditExportStatus, AuditOutcome
from core.api_support import OutputSerializer


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers, booleans and objects instead of stringifying them."""

    default_error_messages = {"invalid": "Must be a string."}

    def __init__(self, **kwargs: Any) -> None:
        if not kwargs.get("allow_blank", False):
            # Blank is refused before any length check; this only tells the schema (minLength).
            kwargs.setdefault("min_length", 1)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know, so a typo never silently does nothing."""

    def to_internal_value(self, data: Any) -> dict:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


# -- input --------------------------------------------------------------------------------------
class NameInput(StrictSerializer):
    name = StrictCharField(max_length=100, trim_whitespace=True)


class IdentityProviderInput(StrictSerializer):
    """A new identity provider: `jwt` (a name only), or company SSO (`oidc`, `saml`)."""

    name = StrictCharField(max_length=100, trim_whitespace=True)
    type = serializers.ChoiceField(choices=IdentityProviderType.choices, default="jwt")
    domains = serializers.ListField(
        child=serializers.CharField(max_length=253),
        required=False,
        max_length=20,
        help_text="Email domains whose people the sign-in page sends to this provider.",
    )
    # OpenID Connect
    issuer = serializers.CharField(
        max_length=500, required=False, help_text="Issuer or discovery URL."
    )
    client_id = serializers.CharField(max_length=200, required=False)
    client_secret = serializers.CharField(
        max_length=500,
        required=False,
        write_only=True,
        trim_whitespace=False,
        help_text="Sealed at rest, never returned.",
    )
    scopes = serializers.ListField(child=serializers.CharField(max_length=200), required=False)
    claim_mapping = serializers.DictField(
        child=serializers.CharField(max_length=200), required=False
    )
    # SAML 2.0
    metadata_xml = serializers.CharField(
        max_length=1_000_000, required=False, trim_whitespace=False
    )
    metadata_url = serializers.CharField(max_length=500, required=False)
    entity_id = serializers.CharField(max_length=500, required=False)
    attribute_mapping = serializers.DictField(
        child=serializers.CharField(max_length=200), required=False
    )


class IdentityProviderSettingsInput(IdentityProviderInput):
    """An SSO provider's settings, replaced whole (the client secret kept when absent)."""

    name = None
    type = None


class UserEnabledInput(StrictSerializer):
    enabled = serializers.BooleanField()


class IdentityLinkInput(StrictSerializer):
    user_id = StrictCharField(max_length=64)
    subject = serializers.CharField(
        max_length=150,
        required=False,
        help_text="What the provider calls the member (default: their username): for SSO, "
        "the OpenID Connect `sub` or the SAML NameID.",
    )


class EnvironmentInput(StrictSerializer):
    name = StrictCharField(max_length=100, trim_whitespace=True)
    type = serializers.ChoiceField(choices=EnvironmentType.choices)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A new member",
            request_only=True,
            value={
                "username": "jane.doe",
                "email": "jane.doe@example.com",
                "password": "seven long words make a passphrase",
                "firstName": "Jane",
                "lastName": "Doe",
            },
        )
    ]
)
class UserInput(StrictSerializer):
    username = StrictCharField(max_length=150)
    email = StrictCharField(max_length=254)
    password = StrictCharField(max_length=128, trim_whitespace=False, write_only=True)
    firstName = StrictCharField(max_length=150, required=False, allow_blank=True)
    lastName = StrictCharField(max_length=150, required=False, allow_blank=True)


# The service checks the names and ids (accounts.services.user_permissions_set, with its own
# messages); these tell the schema which values it takes.
@extend_schema_field(serializers.ChoiceField(choices=Permission.choices))
class PermissionName(StrictCharField):
    pass


@extend_schema_field({"type": "string", "format": "uuid", "description": "An environment id."})
class EnvironmentId(StrictCharField):
    pass


@extend_schema_field(
    serializers.ChoiceField(
        choices=Role.choices,
        allow_blank=True,
        allow_null=True,
        help_text="`null` or an empty string: no role.",
    )
)
class RoleName(StrictCharField):
    pass


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Permissions",
            request_only=True,
            value={
                "permissions": [Permission.READ_ORGANIZATION.value, Permission.READ_USERS.value]
            },
        ),
        OpenApiExample(
            "The administrator role",
            request_only=True,
            value={"role": Role.ORGANIZATION_ADMINISTRATOR.value},
        ),
    ]
)
class PermissionsInput(StrictSerializer):
    permissions = serializers.ListField(
        child=PermissionName(max_length=64), required=False, max_length=100
    )
    environments = serializers.ListField(
        child=EnvironmentId(max_length=64), required=False, max_length=1000
    )
    role = RoleName(max_length=64, required=False, allow_null=True, allow_blank=True)

    def validate(self, attrs: dict) -> dict:
        if "permissions" not in attrs and "role" not in attrs:
            raise serializers.ValidationError("Send permissions, role, or both.")
        return attrs


# -- output -------------------------------------------------------------------------------------
class Derived(serializers.Field):
    """An output field computed from the whole object (`compute(obj)`), documented as the
    field `shape` says (with this field's own `help_text` and `allow_null`). Its output
    depends on the object alone, so output serializers may share it between requests."""

    context_free = True

    def __init__(self, compute: Callable[[Any], Any], shape: serializers.Field, **kwargs: Any):
        super().__init__(source="*", **kwargs)
        self.compute = compute
        self._spectacular_annotation = {"field": shape}

    def to_representation(self, value: Any) -> Any:
        return self.compute(value)


class UserOutput(OutputSerializer):
    id = serializers.UUIDField(help_text="The Anypoint-style id; never changes.")
    username = serializers.CharField()
    firstName = serializers.CharField(source="first_name")
    lastName = serializers.CharField(source="last_name")
    email = serializers.EmailField()
    organizationId = serializers.UUIDField(
        source="organization_id", help_text="The user's root organization."
    )
    createdAt = serializers.DateTimeField(source="date_joined")
    enabled = serializers.BooleanField(source="is_active")


class OrganizationOutput(OutputSerializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    parentId = serializers.UUIDField(
        source="parent_id", allow_null=True, help_text="Null for a root organization."
    )
    parentOrganizationIds = Derived(
        lambda org: [str(a) for a in org.ancestor_ids[:-1]],
        serializers.ListField(child=serializers.UUIDField()),
        help_text="Ancestors, the root first.",
    )
    isRoot = serializers.BooleanField(source="is_root")
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")


class EnvironmentOutput(OutputSerializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=EnvironmentType.choices)
    isProduction = Derived(
        lambda environment: environment.type == EnvironmentType.PRODUCTION,
        serializers.BooleanField(),
    )
    organizationId = serializers.UUIDField(source="organization_id")
    createdAt = serializers.DateTimeField(source="created_at")


class IdentityProviderOutput(OutputSerializer):
    id = serializers.UUIDField(help_text="The `idp_id` that jwt-bearer `sub` claims name.")
    name = serializers.CharField()
    type = serializers.CharField()
    organizationId = serializers.UUIDField(source="organization_id")
    createdAt = serializers.DateTimeField(source="created_at")

    def to_representation(self, provider) -> dict:
        """The provider, and for SSO its settings (never the secret: only whether one is
        set) and what to tell the upstream provider (`sp`)."""
        data = super().to_representation(provider)
        if provider.type == "jwt":
            return data
        from accounts.sso import callback_urls
        from accounts.sso_domains import domain_rows, record_value

        config = {
            k: v
            for k, v in provider.config.items()
            if k not in ("domain_token", "verified_domains")
        }
        data["domain_verification"] = {
            "record_value": record_value(provider),
            "domains": domain_rows(provider),
        }
        if provider.type == "oidc":
            config["client_secret_set"] = bool(provider.client_secret_sealed)
        data.update(config)
        data["domains"] = list(provider.domains)
        data["sp"] = callback_urls(self.context.get("request"), provider)
        return data


class IdentityLinkOutput(OutputSerializer):  # a FederatedIdentity
    user_id = serializers.UUIDField()
    username = serializers.CharField(source="user.username")
    subject = serializers.CharField(help_text="The username the provider's assertions name.")
    linked_at = serializers.DateTimeField(source="created_at")


class UserPermissionsOutput(OutputSerializer):  # accounts.selectors.UserPermissions
    permissions = serializers.ListField(
        child=serializers.ChoiceField(choices=Permission.choices),
        help_text="Permissions granted in this organization.",
    )
    environments = serializers.ListField(
        child=serializers.UUIDField(), help_text="Environments the grants are limited to."
    )
    role = serializers.ChoiceField(choices=Role.choices, allow_null=True)


# -- the audit API's answers (accounts.api_audit) -----------------------------------------------
# Response shapes only: the events are rendered by audit.selectors.event_data (the CSV export's
# columns too) and the exports by accounts.api_audit.export_data, whose timestamps are
# `isoformat()` (`+00:00`) where DRF's DateTimeField would write `Z`.
class AuditActorOutput(OutputSerializer):
    type = serializers.CharField(help_text="`user` or `app`.")
    id = serializers.CharField(help_text="The user's id, or the app's client_id.")
    name = serializers.CharField()


class AuditTargetOutput(OutputSerializer):
    type = serializers.CharField()
    id = serializers.CharField()


class AuditEventOutput(OutputSerializer):
    id = serializers.UUIDField()
    timestamp = serializers.DateTimeField()
    action = serializers.CharField(help_text="`app.created`, `token.issued`, …")
    outcome = serializers.ChoiceField(choices=AuditOutcome.choices)
    org_id = serializers.UUIDField(allow_null=True)
    actor = AuditActorOutput(allow_null=True, help_text="Null for a system event.")
    target = AuditTargetOutput()
    client_ip = serializers.IPAddressField(allow_null=True)
    user_agent = serializers.CharField()
    details = serializers.DictField(help_text="Never holds a secret, a token or a code.")


class AuditExportOutput(OutputSerializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=AuditExportStatus.choices)
    progress = serializers.IntegerField(help_text="Percent done, 0-100.")
    total = serializers.IntegerField()
    rowCount = serializers.IntegerField()
    filters = serializers.DictField(child=serializers.CharField())
    createdAt = serializers.DateTimeField()
    finishedAt = serializers.DateTimeField(allow_null=True)
    downloadUrl = serializers.CharField(allow_null=True)


class SecurityPolicyIO(StrictSerializer, OutputSerializer):  # and models.OrgSecurityPolicy
    """A root organization's sign-in policy: second factors and single sign-on."""

    schema_min_properties = 1
    mfa_required = serializers.ChoiceField(
        choices=MfaRequirement.choices,
        required=False,
        help_text="Who must sign in with a second factor: nobody, the org's administrators, "
        "or every member.",
    )
    sso_enforced = serializers.BooleanField(
        required=False,
        help_text="true: members sign in through the org's SSO provider only (needs one).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError({"non_field_errors": ["Nothing to change."]})
        return attrs


class SessionOutput(OutputSerializer):  # and accounts.sign_in_sessions.SignInSession
    id = serializers.CharField(help_text="The session's id (not its cookie).")
    signed_in_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField()
    ip = serializers.CharField(help_text="Where it signed in from.")
    user_agent = serializers.CharField()
    current = serializers.BooleanField(help_text="true: the session making this request.")
