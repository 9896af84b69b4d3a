"""Revoking authorizations through the resource API (SPEC §4, §6): a user revokes an app they
authorized (`DELETE /accounts/api/users/me/connectedApplications/{client_id}`, beside My apps'
list in connected_apps.api_me), an org administrator revokes an app for every user of the org
(`DELETE …/organizations/{org_id}/authorizedApplications/{client_id}`, beside the org
controls in connected_apps.api_controls). Both call oauth.services, hence live here.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from connected_apps import controls, selectors
from connected_apps.api_controls import ADMIN_NOTE, NO_CONTENT, OrgControlsAPIView
from connected_apps.api_controls import TAG as ORG_CONTROLS_TAG
from connected_apps.api_me import REVOKE_SCOPES, MyConnectedAppsAPIView
from connected_apps.api_me import TAG as MY_APPS_TAG
from core.schema import READ_ERRORS, error_responses
from oauth.services import authorization_revoke, authorizations_revoke_for_org


class MyConnectedAppAPI(MyConnectedAppsAPIView):
    token_scopes = REVOKE_SCOPES

    @extend_schema(
        tags=[MY_APPS_TAG],
        summary="Revoke an app the caller authorized",
        description="Its access and refresh tokens for the caller stop working at once. A "
        "bearer token needs `full`.",
        responses={
            204: OpenApiResponse(description="Revoked; no body."),
            **error_responses(*READ_ERRORS),
        },
    )
    def delete(self, request: Request, client_id: str) -> Response:
        authorization = selectors.user_authorization_get(user=request.user, client_id=client_id)
        authorization_revoke(actor=request.user, authorization=authorization, meta=self.meta)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuthorizedAppAPI(OrgControlsAPIView):
    @extend_schema(
        tags=[ORG_CONTROLS_TAG],
        summary="Revoke an app for every user of the org",
        description=f"{ADMIN_NOTE} Every token of the app for the org's users stops at once.",
        responses={204: NO_CONTENT, **error_responses(*READ_ERRORS)},
    )
    def delete(self, request: Request, org_id: str, client_id: str) -> Response:
        org = self.controlled_org(org_id, write=True)
        row = controls.authorized_app_get(org=org, client_id=client_id)
        authorizations_revoke_for_org(access=self.access, org=org, app=row.app, meta=self.meta)
        return Response(status=status.HTTP_204_NO_CONTENT)
