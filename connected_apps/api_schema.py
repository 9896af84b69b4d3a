"""OpenAPI documentation of the connected-apps API (connected_apps.api): the shapes that
`app_data()` / `usage_data()` build and the bodies the services accept, and one
`extend_schema` per operation.

Documentation only: the views parse their bodies themselves and render plain dicts.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers

from accounts.catalog import ALL_SCOPES
from accounts.serializers import StrictSerializer
from connected_apps.models import Audience, GrantType
from core.schema import INPUT_ERRORS, PAGING, READ_ERRORS, SEARCH, error_responses, list_of

TAG = "Connected apps"
INCLUDE_USAGE = OpenApiParameter(
    "includeUsage",
    OpenApiTypes.BOOL,
    description="`true` adds each app's usage figures (`usage`); `false` (the default) does "
    "not. Any other value is a 400.",
)
RESET_SECRET = OpenApiParameter(
    "resetSecret",
    OpenApiTypes.BOOL,
    description="`true` rotates the client secret instead (the body is ignored) and answers "
    "the new secret, shown once; `false` (the default) applies the body. Any other value is a "
    "400.",
)

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


# -- bodies --------------------------------------------------------------------------------------
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


class ScopeInContext(serializers.Serializer):
    scope = serializers.CharField()
    context_params = serializers.DictField(
        child=serializers.UUIDField(), help_text="`org` and, for environment scopes, `envId`."
    )


class AppScopes(StrictSerializer):
    scopes = serializers.ListField(child=ScopeSpecField())


class AppScopesOutput(serializers.Serializer):
    scopes = ScopeInContext(many=True)


# -- responses (connected_apps.api.app_data / usage_data) ----------------------------------------
class TokensIssuedDay(serializers.Serializer):
    date = serializers.DateField()
    count = serializers.IntegerField()


class AppUsageOutput(serializers.Serializer):
    organizations = serializers.IntegerField(
        help_text="Organizations with a user holding a live authorization."
    )
    users = serializers.IntegerField(help_text="Users with a live authorization.")
    tokens_issued = TokensIssuedDay(many=True, help_text="The last 30 days, oldest first.")
    last_used_at = serializers.DateTimeField(allow_null=True)


class AppOutput(serializers.Serializer):
    client_id = serializers.CharField(help_text="32 lowercase hex characters; never changes.")
    client_name = serializers.CharField()
    grant_types = serializers.ListField(child=serializers.ChoiceField(choices=GrantType.choices))
    redirect_uris = serializers.ListField(child=serializers.URLField())
    scopes = serializers.ListField(child=serializers.CharField(), help_text="Scope names.")
    public_keys = serializers.ListField(child=PublicKeyField())
    audience = serializers.ChoiceField(choices=Audience.choices)
    website_url = serializers.CharField(allow_blank=True)
    enabled = serializers.BooleanField()
    owner_org_id = serializers.UUIDField()
    created_by = serializers.UUIDField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    usage = AppUsageOutput(required=False, help_text="Only with includeUsage=true.")


class AppSecretOutput(serializers.Serializer):
    client_id = serializers.CharField()
    client_secret = serializers.CharField(help_text="Shown this once; stored only as a hash.")


class AppCreatedOutput(AppOutput):
    client_secret = serializers.CharField(help_text="Shown this once; stored only as a hash.")


APP_OR_SECRET = PolymorphicProxySerializer(
    component_name="AppOrSecret",
    serializers=[AppOutput, AppSecretOutput],
    resource_type_field_name=None,
)
NO_CONTENT = OpenApiResponse(description="Done; no body.")
NO_STORE_NOTE = "Answered with `Cache-Control: no-store`."

# -- operations ----------------------------------------------------------------------------------
app_list = extend_schema(
    tags=[TAG],
    summary="Apps the caller administers",
    description="Apps owned by the orgs and business groups where the caller holds "
    "manage:connected_apps (or by `org_id` alone, on the org-addressed route).",
    parameters=[*PAGING, SEARCH, INCLUDE_USAGE],
    responses={200: list_of(AppOutput), **error_responses(*INPUT_ERRORS)},
)
app_create = extend_schema(
    tags=[TAG],
    summary="Register an app",
    description=f"At most 2000 apps per root organization. {NO_STORE_NOTE}",
    request=AppInput,
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
    ],
    responses={201: AppCreatedOutput, **error_responses(*INPUT_ERRORS)},
)
app_read = extend_schema(
    tags=[TAG],
    summary="An app",
    parameters=[INCLUDE_USAGE],
    responses={200: AppOutput, **error_responses(*INPUT_ERRORS)},
)
app_update = extend_schema(
    tags=[TAG],
    summary="Change an app (or rotate its secret with resetSecret=true)",
    description="Changes take effect for every token of the app on its next request.",
    parameters=[RESET_SECRET],
    request=AppChanges,
    responses={200: APP_OR_SECRET, **error_responses(*INPUT_ERRORS)},
)
app_delete = extend_schema(
    tags=[TAG],
    summary="Delete an app and every token it holds",
    responses={204: NO_CONTENT, **error_responses(*READ_ERRORS)},
)
app_rotate_secret = extend_schema(
    tags=[TAG],
    summary="Rotate the client secret",
    description=f"The old secret stops working at once. {NO_STORE_NOTE}",
    request=None,
    responses={200: AppSecretOutput, **error_responses(*READ_ERRORS)},
)
app_scopes_read = extend_schema(
    tags=[TAG],
    summary="The app's scopes with their contexts",
    responses={200: AppScopesOutput, **error_responses(*READ_ERRORS)},
)
app_scopes_set = extend_schema(
    tags=[TAG],
    summary="Replace the app's scopes",
    description="At most 1000 scopes. Tokens lose a removed scope on their next request.",
    request=AppScopes,
    responses={204: NO_CONTENT, **error_responses(*INPUT_ERRORS)},
)
app_usage = extend_schema(
    tags=[TAG],
    summary="Who uses the app, and tokens issued per day",
    responses={200: AppUsageOutput, **error_responses(*READ_ERRORS)},
)
