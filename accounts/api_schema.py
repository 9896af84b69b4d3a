"""OpenAPI documentation of the accounts API (accounts.api): the response shapes that
accounts.serializers' `*_data()` functions build, and one `extend_schema` per operation.

Documentation only: the views never use these serializers to render anything. The
request bodies are the real input serializers (NameInput, …).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers

from accounts.catalog import Permission, Role
from accounts.models import EnvironmentType
from accounts.serializers import (
    EnvironmentInput,
    IdentityLinkInput,
    NameInput,
    PermissionsInput,
    UserInput,
)
from core.schema import INPUT_ERRORS, PAGING, READ_ERRORS, SEARCH, error_responses, list_of


# -- response shapes (accounts.serializers.*_data) ----------------------------------------------
class UserOutput(serializers.Serializer):
    id = serializers.UUIDField(help_text="The Anypoint-style id; never changes.")
    username = serializers.CharField()
    firstName = serializers.CharField()
    lastName = serializers.CharField()
    email = serializers.EmailField()
    organizationId = serializers.UUIDField(help_text="The user's root organization.")
    createdAt = serializers.DateTimeField()
    enabled = serializers.BooleanField()


class OrganizationOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    parentId = serializers.UUIDField(allow_null=True, help_text="Null for a root organization.")
    parentOrganizationIds = serializers.ListField(
        child=serializers.UUIDField(), help_text="Ancestors, the root first."
    )
    isRoot = serializers.BooleanField()
    createdAt = serializers.DateTimeField()
    updatedAt = serializers.DateTimeField()


class EnvironmentOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=EnvironmentType.choices)
    isProduction = serializers.BooleanField()
    organizationId = serializers.UUIDField()
    createdAt = serializers.DateTimeField()


class IdentityProviderOutput(serializers.Serializer):
    id = serializers.UUIDField(help_text="The `idp_id` that jwt-bearer `sub` claims name.")
    name = serializers.CharField()
    organizationId = serializers.UUIDField()
    createdAt = serializers.DateTimeField()


class IdentityLinkOutput(serializers.Serializer):
    user_id = serializers.UUIDField()
    username = serializers.CharField()
    subject = serializers.CharField(help_text="The username the provider's assertions name.")
    linked_at = serializers.DateTimeField()


class UserPermissionsOutput(serializers.Serializer):
    permissions = serializers.ListField(
        child=serializers.ChoiceField(choices=Permission.choices),
        help_text="Permissions granted in this organization.",
    )
    environments = serializers.ListField(
        child=serializers.UUIDField(), help_text="Environments the grants are limited to."
    )
    role = serializers.ChoiceField(choices=Role.choices, allow_null=True)


# -- operations ----------------------------------------------------------------------------------
def _read(tag: str, summary: str, response, **kwargs):
    errors = INPUT_ERRORS if kwargs.get("parameters") else READ_ERRORS
    return extend_schema(
        tags=[tag],
        summary=summary,
        responses={200: response, **error_responses(*errors)},
        **kwargs,
    )


def _write(tag: str, summary: str, request, response, status: int = 200, **kwargs):
    return extend_schema(
        tags=[tag],
        summary=summary,
        request=request,
        responses={status: response, **error_responses(*INPUT_ERRORS)},
        **kwargs,
    )


profile_read = _read(
    "Profile",
    "The caller's profile",
    UserOutput,
    description="Needs `profile` (or `full` / `read:full`) with a bearer token. An app acting "
    "on its own behalf reads the profile of the user who created it.",
)

organization_read = _read("Organizations", "An organization or business group", OrganizationOutput)
organization_rename = _write(
    "Organizations", "Rename an organization or business group", NameInput, OrganizationOutput
)

business_group_list = _read(
    "Organizations",
    "The business groups below an organization",
    list_of(OrganizationOutput),
    parameters=PAGING,
)
business_group_create = _write(
    "Organizations", "Create a business group", NameInput, OrganizationOutput, status=201
)

environment_list = _read(
    "Environments",
    "Environments of an organization",
    list_of(EnvironmentOutput),
    parameters=PAGING,
)
environment_create = _write(
    "Environments", "Create an environment", EnvironmentInput, EnvironmentOutput, status=201
)

user_list = _read(
    "Users",
    "Members of an organization",
    list_of(UserOutput),
    parameters=[*PAGING, SEARCH],
)
user_create = _write(
    "Users",
    "Add a member",
    UserInput,
    UserOutput,
    status=201,
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
    ],
)
user_read = _read("Users", "A member", UserOutput)

user_permissions_read = _read(
    "Users", "What a user holds in an organization", UserPermissionsOutput
)
user_permissions_set = _write(
    "Users",
    "Replace a user's permissions or role in an organization",
    PermissionsInput,
    UserPermissionsOutput,
    description='`{"permissions": [...], "environments": [...]}`, or '
    '`{"role": "Organization Administrator"}` (`null` removes the role).',
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
    ],
)

identity_provider_list = _read(
    "Identity providers",
    "Identity providers of an organization",
    list_of(IdentityProviderOutput),
    parameters=PAGING,
)
identity_provider_create = _write(
    "Identity providers", "Register an identity provider", NameInput, IdentityProviderOutput, 201
)

identity_link_list = _read(
    "Identity providers",
    "Users an identity provider reaches",
    list_of(IdentityLinkOutput),
    parameters=PAGING,
    description="Only linked users can be named by the provider's jwt-bearer assertions "
    "(SPEC §5): those it created, and those an administrator linked.",
)
identity_link_create = _write(
    "Identity providers",
    "Link a member to an identity provider",
    IdentityLinkInput,
    IdentityLinkOutput,
    201,
    description="Organization Administrator (with full access) of the provider's org only: "
    "the provider's assertions then sign the member in.",
)
identity_link_delete = extend_schema(
    tags=["Identity providers"],
    summary="Unlink a member from an identity provider",
    request=None,
    responses={204: OpenApiResponse(description="Done; no body."), **error_responses(*READ_ERRORS)},
)
