"""Org controls API (SPEC §4, §6): an org's connected-apps settings, its allowlist and the apps
its users authorized. Organization Administrators of the root org only; another tenant's org
(or a business group) is 404. Views are thin: connected_apps.controls reads and writes.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api import AccountsAPIView
from connected_apps import controls
from connected_apps.serializers import (
    AllowlistEntryOutput,
    AllowlistInput,
    AuthorizedAppOrgOutput,
    SettingsIO,
)
from core.api_support import paginated, validated
from core.schema import PAGING, list_of

TAG = "Org controls"
NO_CONTENT = OpenApiResponse(description="Done; no body.")
ADMIN_NOTE = (
    "Organization Administrators of the root org `org_id` (a bearer token needs "
    "manage:connected_apps or full; read:full may read)."
)


# -- views ---------------------------------------------------------------------------------------
@extend_schema(tags=[TAG])
class OrgControlsAPIView(AccountsAPIView):
    def controlled_org(self, org_id: str, *, write: bool):
        return controls.controlled_org_get(access=self.access, org_id=org_id, write=write)


class OrgAppSettingsAPI(OrgControlsAPIView):
    @extend_schema(
        summary="The org's connected-apps settings",
        description=ADMIN_NOTE,
        responses=SettingsIO,
    )
    def get(self, request: Request, org_id: str) -> Response:
        org = self.controlled_org(org_id, write=False)
        return Response(SettingsIO(controls.org_settings_get(org=org)).data)

    @extend_schema(
        summary="Change the feature switch or the allowlist toggle",
        description=f"{ADMIN_NOTE} Takes effect on every user's next request. Switching "
        "apps off revokes nothing: tokens stop working while off.",
        request=SettingsIO,
        responses=SettingsIO,
    )
    def put(self, request: Request, org_id: str) -> Response:
        org = self.controlled_org(org_id, write=True)
        body = validated(SettingsIO, request)
        settings = controls.org_settings_update(access=self.access, org=org, meta=self.meta, **body)
        return Response(SettingsIO(settings).data)


class AllowlistAPI(OrgControlsAPIView):
    @extend_schema(
        summary="Allowlisted apps with their approved scopes",
        description=ADMIN_NOTE,
        parameters=PAGING,
        responses=list_of(AllowlistEntryOutput),
    )
    def get(self, request: Request, org_id: str) -> Response:
        org = self.controlled_org(org_id, write=False)
        rows = controls.allowlist_list(org=org)
        return Response(paginated(request, rows, AllowlistEntryOutput().to_representation))

    @extend_schema(
        summary="Approve (or re-approve) an app's current scopes",
        description=f"{ADMIN_NOTE} Records the app's scopes as they are now.",
        request=AllowlistInput,
        responses=AllowlistEntryOutput,
    )
    def post(self, request: Request, org_id: str) -> Response:
        org = self.controlled_org(org_id, write=True)
        body = validated(AllowlistInput, request)
        row = controls.allowlist_approve(
            access=self.access, org=org, client_id=body["client_id"], meta=self.meta
        )
        return Response(AllowlistEntryOutput(row).data)


class AllowlistEntryAPI(OrgControlsAPIView):
    @extend_schema(
        summary="Remove an app from the allowlist",
        description=f"{ADMIN_NOTE} Its tokens for the org's users stop on their next request.",
        responses={204: NO_CONTENT},
    )
    def delete(self, request: Request, org_id: str, client_id: str) -> Response:
        org = self.controlled_org(org_id, write=True)
        controls.allowlist_remove(access=self.access, org=org, client_id=client_id, meta=self.meta)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuthorizedAppsAPI(OrgControlsAPIView):
    @extend_schema(
        summary="Apps the org's users authorized",
        description=ADMIN_NOTE,
        parameters=PAGING,
        responses=list_of(AuthorizedAppOrgOutput),
    )
    def get(self, request: Request, org_id: str) -> Response:
        org = self.controlled_org(org_id, write=False)
        rows = controls.authorized_app_list(org=org)
        return Response(paginated(request, rows, AuthorizedAppOrgOutput().to_representation))
