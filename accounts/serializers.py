"""Input and output shapes of the accounts API (SPEC §4), in Anypoint's camelCase."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.catalog import Permission, Role
from accounts.models import (
    Environment,
    EnvironmentType,
    FederatedIdentity,
    IdentityProvider,
    Organization,
    User,
)


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


class IdentityLinkInput(StrictSerializer):
    user_id = StrictCharField(max_length=64)


class EnvironmentInput(StrictSerializer):
    name = StrictCharField(max_length=100, trim_whitespace=True)
    type = serializers.ChoiceField(choices=EnvironmentType.choices)


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
def organization_data(org: Organization) -> dict[str, Any]:
    ancestors = org.ancestor_ids[:-1]
    return {
        "id": str(org.id),
        "name": org.name,
        "parentId": str(org.parent_id) if org.parent_id else None,
        "parentOrganizationIds": [str(a) for a in ancestors],
        "isRoot": org.is_root,
        "createdAt": org.created_at,
        "updatedAt": org.updated_at,
    }


def environment_data(environment: Environment) -> dict[str, Any]:
    return {
        "id": str(environment.id),
        "name": environment.name,
        "type": environment.type,
        "isProduction": environment.type == EnvironmentType.PRODUCTION,
        "organizationId": str(environment.organization_id),
        "createdAt": environment.created_at,
    }


def user_data(user: User) -> dict[str, Any]:
    return {
        "id": str(user.id),
        "username": user.username,
        "firstName": user.first_name,
        "lastName": user.last_name,
        "email": user.email,
        "organizationId": str(user.organization_id),
        "createdAt": user.date_joined,
        "enabled": user.is_active,
    }


def identity_provider_data(provider: IdentityProvider) -> dict[str, Any]:
    return {
        "id": str(provider.id),
        "name": provider.name,
        "organizationId": str(provider.organization_id),
        "createdAt": provider.created_at,
    }


def identity_link_data(link: FederatedIdentity) -> dict[str, Any]:
    return {
        "user_id": str(link.user_id),
        "username": link.user.username,
        "subject": link.subject,
        "linked_at": link.created_at,
    }
