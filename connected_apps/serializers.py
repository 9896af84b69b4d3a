"""Input and output serializers of the connected-apps API (SPEC §4, §6).

The outputs render the answers. The app bodies (AppInput, AppChanges, AppScopes) only name the
fields a body may hold and document them: connected_apps.services checks the values, with the
messages its tests pin, so the views parse them themselves (connected_apps.api._body).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from accounts.catalog import ALL_SCOPES
from accounts.serializers import Derived, StrictSerializer
from connected_apps.models import Audience, GrantType
from core.api_support import OutputSerializer

NOTHING_TO_CHANGE = "Send enabled and/or allowlist_enabled."

# What a serializer cannot say: a value that is one of two shapes.
CONTEXT_PARAMS = {
    "type": "object",
    "description": "client_credentials apps only: where the scope applies.",
    "properties": {
        "org": {"type": "string", "format": "uuid", "description": "Org or business group."},
        "envId": {"type": "string", "format": "uuid", "description": "Environment scopes."},
    },
}
SCOPE_IN_CONTEXT = {
    "type": "object",
    "required": ["scope"],
    "properties": {
        "scope": {"type": "string", "enum": list(ALL_SCOPES)},
        "context_params": CONTEXT_PARAMS,
    },
}


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "enum": list(ALL_SCOPES), "description": "A scope name."},
            SCOPE_IN_CONTEXT,
        ]
    }
)
class ScopeSpecField(serializers.JSONField):
    """A scope name, or `{"scope", "context_params"}` for client_credentials apps."""


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "description": "A PEM public key."},
            {"type": "object", "description": "A public JWK.", "additionalProperties": True},
        ]
    }
)
class PublicKeyField(serializers.JSONField):
    """A PEM public key or a public JWK."""


# -- apps ----------------------------------------------------------------------------------------
@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "An app acting for its users",
            request_only=True,
            value={
                "client_name": "Reporting dashboard",
                "grant_types": ["authorization_code", "refresh_token"],
                "redirect_uris": ["https://dashboard.example.com/callback"],
                "scopes": ["openid", "profile", "offline_access", "read:organization"],
                "audience": "internal",
                "website_url": "https://dashboard.example.com",
            },
        )
    ]
)
class AppInput(StrictSerializer):
    client_name = serializers.CharField(min_length=1, max_length=100)
    grant_types = serializers.ListField(
        child=serializers.ChoiceField(choices=GrantType.choices),
        min_length=1,
        help_text="client_credentials cannot be combined with the user grants.",
    )
    redirect_uris = serializers.ListField(
        child=serializers.URLField(),
        required=False,
        help_text="Required for authorization_code; https except http://localhost or "
        "127.0.0.1; matched exactly.",
    )
    scopes = serializers.ListField(child=ScopeSpecField(), required=False, max_length=1000)
    public_keys = serializers.ListField(
        child=PublicKeyField(), required=False, help_text="Required for jwt-bearer."
    )
    audience = serializers.ChoiceField(choices=Audience.choices, required=False)
    owner_org_id = serializers.UUIDField(
        required=False, help_text="The org or business group that owns it (default: yours)."
    )
    website_url = serializers.URLField(required=False, allow_blank=True)


class AppChanges(StrictSerializer):
    client_name = serializers.CharField(min_length=1, max_length=100, required=False)
    grant_types = serializers.ListField(
        child=serializers.ChoiceField(choices=GrantType.choices), min_length=1, required=False
    )
    redirect_uris = serializers.ListField(child=serializers.URLField(), required=False)
    scopes = serializers.ListField(child=ScopeSpecField(), required=False, max_length=1000)
    public_keys = serializers.ListField(child=PublicKeyField(), required=False)
    audience = serializers.ChoiceField(choices=Audience.choices, required=False)
    website_url = serializers.URLField(required=False, allow_blank=True)
    enabled = serializers.BooleanField(
        required=False, help_text="false stops every token of the app at once."
    )


class ScopeInContext(OutputSerializer):
    scope = serializers.CharField()
    context_params = serializers.DictField(
        child=serializers.UUIDField(), help_text="`org` and, for environment scopes, `envId`."
    )


class AppScopes(StrictSerializer):
    scopes = serializers.ListField(child=ScopeSpecField())


class AppScopesOutput(OutputSerializer):  # {"scopes": selectors.app_scope_data(app)}
    scopes = ScopeInContext(many=True)


class TokensIssuedDay(OutputSerializer):
    date = serializers.DateField()
    count = serializers.IntegerField()


class AppUsageOutput(OutputSerializer):  # selectors.AppUsage
    organizations = serializers.IntegerField(
        help_text="Organizations with a user holding a live authorization."
    )
    users = serializers.IntegerField(help_text="Users with a live authorization.")
    tokens_issued = TokensIssuedDay(many=True, help_text="The last 30 days, oldest first.")
    last_used_at = serializers.DateTimeField(allow_null=True)


class AppUsageReportOutput(AppUsageOutput):  # selectors.AppUsageReport
    tokens_issued = TokensIssuedDay(
        many=True, help_text="Each of the `days` (default 30) up to today (UTC), oldest first."
    )
    tokens_refused = TokensIssuedDay(
        many=True,
        help_text="Token requests of the app refused on each of the same days (a wrong client "
        "secret, a scope or grant it does not hold…): its `token.refused` audit events.",
    )


class AppOutput(OutputSerializer):
    client_id = serializers.CharField(help_text="32 lowercase hex characters; never changes.")
    client_name = serializers.CharField(source="name")
    grant_types = serializers.ListField(child=serializers.ChoiceField(choices=GrantType.choices))
    redirect_uris = Derived(
        lambda app: app.redirect_uris.split(),
        serializers.ListField(child=serializers.URLField()),
    )
    scopes = Derived(
        lambda app: sorted({grant.scope for grant in app.scope_grants.all()}),
        serializers.ListField(child=serializers.CharField()),
        help_text="Scope names.",
    )
    public_keys = serializers.ListField(child=PublicKeyField())
    audience = serializers.ChoiceField(choices=Audience.choices)
    website_url = serializers.CharField(allow_blank=True)
    enabled = serializers.BooleanField()
    owner_org_id = serializers.UUIDField()
    created_by = serializers.UUIDField(source="user_id", allow_null=True)
    created_at = serializers.DateTimeField(source="created")
    updated_at = serializers.DateTimeField(source="updated")
    last_used_at = serializers.DateTimeField(allow_null=True)
    # An app has no `usage`, so this is left out; connected_apps.api.app_data adds it.
    usage = AppUsageOutput(required=False, help_text="Only with includeUsage=true.")


class AppSecretOutput(OutputSerializer):  # services.AppWithSecret
    client_id = serializers.CharField(source="app.client_id")
    client_secret = serializers.CharField(help_text="Shown this once; stored only as a hash.")


class AppCreatedOutput(AppOutput):  # AppOutput and services.AppWithSecret's secret
    client_secret = serializers.CharField(help_text="Shown this once; stored only as a hash.")


# -- org controls --------------------------------------------------------------------------------
class SettingsIO(StrictSerializer, OutputSerializer):  # and models.OrgAppSettings
    schema_min_properties = 1  # validate(): NOTHING_TO_CHANGE
    enabled = serializers.BooleanField(
        required=False, help_text="false: no user of the org can use any app; their tokens stop."
    )
    allowlist_enabled = serializers.BooleanField(
        required=False, help_text="true: only allowlisted apps, with their approved scopes."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError({"non_field_errors": [NOTHING_TO_CHANGE]})
        return attrs


class AllowlistInput(serializers.Serializer):
    client_id = serializers.CharField(min_length=1, max_length=100)


class AllowlistEntryOutput(OutputSerializer):  # controls.AllowlistRow
    client_id = serializers.CharField(source="entry.app.client_id")
    client_name = serializers.CharField(source="entry.app.name")
    approved_scopes = Derived(
        lambda row: sorted(row.entry.approved_scopes),
        serializers.ListField(child=serializers.CharField()),
    )
    current_scopes = serializers.ListField(
        child=serializers.CharField(), help_text="The app's scopes now; compare to approve."
    )
    approved_at = serializers.DateTimeField(source="entry.approved_at")
    approved_by = serializers.UUIDField(source="entry.approved_by_id", allow_null=True)


class AuthorizedAppOrgOutput(OutputSerializer):  # controls.AuthorizedApp
    client_id = serializers.CharField(source="app.client_id")
    client_name = serializers.CharField(source="app.name")
    owner_org_id = serializers.UUIDField(source="app.owner_org_id")
    owner_org_name = serializers.CharField(source="app.owner_org.name")
    users = serializers.IntegerField(help_text="The org's users with a live authorization.")
    scopes = serializers.ListField(
        child=serializers.CharField(), help_text="Union of the scopes they allowed."
    )
    last_used_at = serializers.DateTimeField(allow_null=True)


# -- the caller's own apps -----------------------------------------------------------------------
class AuthorizedAppOutput(OutputSerializer):  # models.Authorization
    client_id = serializers.CharField(source="app.client_id")
    client_name = serializers.CharField(source="app.name")
    website_url = serializers.CharField(source="app.website_url", allow_blank=True)
    owner_org_id = serializers.UUIDField(source="app.owner_org_id")
    scopes = serializers.ListField(child=serializers.CharField(), help_text="As allowed.")
    authorized_at = serializers.DateTimeField(source="created_at")
    # `last_used`: annotated by selectors.user_authorization_list.
    last_used_at = Derived(
        lambda authorization: getattr(authorization, "last_used", authorization.last_used_at),
        serializers.DateTimeField(),
        allow_null=True,
        help_text="When a token was last issued to the app for the caller.",
    )
