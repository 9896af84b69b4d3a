"""Org controls API (SPEC §4, §6): an org's connected-apps settings, its allowlist and the apps
its users authorized. Organization Administrators of the root org only; another tenant's org
(or a business group) is 404. Views are thin: connected_apps.controls reads and writes.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api import AccountsAPIView
from accounts.serializers import StrictSerializer
from connected_apps import controls
from connected_apps.models import OrgAppSettings
from core.api_support import paginated, validated
from core.schema import INPUT_ERRORS, PAGING, READ_ERRORS, error_responses, list_of

TAG = "Org controls"
NOTHING_TO_CHANGE = "Send enabled and/or allowlist_enabled."


# -- shapes --------------------------------------------------------------------------------------
def settings_data(settings: OrgAppSettings) -> dict[str, Any]:
    return {"enabled": settings.enabled, "allowlist_enabled": settings.allowlist_enabled}


def allowlist_data(row: controls.AllowlistRow) -> dict[str, Any]:
    entry = row.entry
    return {
        "client_id": entry.app.client_id,
        "client_name": entry.app.name,
        "approved_scopes": sorted(entry.approved_scopes),
        "current_scopes": row.current_scopes,
        "approved_at": entry.approved_at,
        "approved_by": str(entry.approved_by_id) if entry.approved_by_id else None,
    }


def authorized_app_data(row: controls.AuthorizedApp) -> dict[str, Any]:
    app = row.app
    return {
        "client_id": app.client_id,
        "client_name": app.name,
        "owner_org_id": str(app.owner_org_id),
        "owner_org_name": app.owner_org.name,
        "users": row.users,
        "scopes": row.scopes,
        "last_used_at": row.last_used_at,
    }


class SettingsIO(StrictSerializer):
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


class AllowlistEntryOutput(serializers.Serializer):
    client_id = serializers.CharField()
    client_name = serializers.CharField()
    approved_scopes = serializers.ListField(child=serializers.CharField())
    current_scopes = serializers.ListField(
        child=serializers.CharField(), help_text="The app's scopes now; compare to approve."
    )
    approved_at = serializers.DateTimeField()
    approved_by = serializers.UUIDField(allow_null=True)


class AuthorizedAppOrgOutput(serializers.Serializer):
    client_id = serializers.CharField()
    client_name = serializers.CharField()
    owner_org_id = serializers.UUIDField()
    owner_org_name = serializers.CharField()
    users = serializers.IntegerField(help_text="The org's users with a live authorization.")
    scopes = serializers.ListField(
        child=serializers.CharField(), help_text="Union of the scopes they allowed."
    )
    last_used_at = serializers.DateTimeField(allow_null=True)


NO_CONTENT = OpenApiResponse(description="Done; no body.")
ADMIN_NOTE = (
    "Organization Administrators of the root org `org_id` (a bearer token needs "
    "manage:connected_apps or full; read:full may read)."
)


# -- views ---------------------------------------------------------------------------------------
class OrgControlsAPIView(AccountsAPIView):
    def controlled_org(self, org_id: str, *, write: bool):
        return controls.controlled_org_get(access=self.access, org_id=org_id, write=write)


class OrgAppSettingsAPI(OrgControlsAPIView):
    @extend_schema(
        tags=[TAG],
        summary="The org's connected-apps settings",
        description=ADMIN_NOTE,
        responses={200: SettingsIO, **error_responses(*READ_ERRORS)},
    )
    def get(self, request: Request, org_id: str) -> Response:
        org = self.controlled_org(org_id, write=False)
        return Response(settings_data(controls.org_settings_get(org=org)))

    @extend_schema(
        tags=[TAG],
        summary="Change the feature switch or the allowlist toggle",
        description=f"{ADMIN_NOTE} Takes effect on every user's next request. Switching "
        "apps off revokes nothing: tokens stop working while off.",
        request=SettingsIO,
        responses={200: SettingsIO, **error_responses(*INPUT_ERRORS)},
    )
    def put(self, request: Request, org_id: str) -> Response:
        org = self.controlled_org(org_id, write=True)
        body = validated(SettingsIO, request)
        settings = controls.org_settings_update(access=self.access, org=org, meta=self.meta, **body)
        return Response(settings_data(settings))


class AllowlistAPI(OrgControlsAPIView):
    @extend_schema(
        tags=[TAG],
        summary="Allowlisted apps with their approved scopes",
        description=ADMIN_NOTE,
        parameters=PAGING,
        responses={200: list_of(AllowlistEntryOutput), **error_responses(*INPUT_ERRORS)},
    )
    def get(self, request: Request, org_id: str) -> Response:
        org = self.controlled_org(org_id, write=False)
        return Response(paginated(request, controls.allowlist_list(org=org), allowlist_data))

    @extend_schema(
        tags=[TAG],
        summary="Approve (or re-approve) an app's current scopes",
        description=f"{ADMIN_NOTE} Records the app's scopes as they are now.",
        request=AllowlistInput,
        responses={200: AllowlistEntryOutput, **error_responses(*INPUT_ERRORS)},
    )
    def post(self, request: Request, org_id: str) -> Response:
        org = self.controlled_org(org_id, write=True)
        body = validated(AllowlistInput, request)
        row = controls.allowlist_approve(
            access=self.access, org=org, client_id=body["client_id"], meta=self.meta
        )
        return Response(allowlist_data(row))


class AllowlistEntryAPI(OrgControlsAPIView):
    @extend_schema(
        tags=[TAG],
        summary="Remove an app from the allowlist",
        description=f"{ADMIN_NOTE} Its tokens for the org's users stop on their next request.",
        responses={204: NO_CONTENT, **error_responses(*READ_ERRORS)},
    )
    def delete(self, request: Request, org_id: str, client_id: str) -> Response:
        org = self.controlled_org(org_id, write=True)
        controls.allowlist_remove(access=self.access, org=org, client_id=client_id, meta=self.meta)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuthorizedAppsAPI(OrgControlsAPIView):
    @extend_schema(
        tags=[TAG],
        summary="Apps the org's users authorized",
        description=ADMIN_NOTE,
        parameters=PAGING,
        responses={200: list_of(AuthorizedAppOrgOutput), **error_responses(*INPUT_ERRORS)},
    )
    def get(self, request: Request, org_id: str) -> Response:
        org = self.controlled_org(org_id, write=False)
        rows = controls.authorized_app_list(org=org)
        return Response(paginated(request, rows, authorized_app_data))
