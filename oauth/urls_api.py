"""Resource-API URLs of oauth, mounted at /accounts/api/: revoking an authorization (SPEC §4,
§6), beside connected_apps' My apps list and org controls."""

from django.urls import path

from oauth import api_revocation

urlpatterns = [
    path(
        "users/me/connectedApplications/<str:client_id>",
        api_revocation.MyConnectedAppAPI.as_view(),
        name="api-my-app",
    ),
    path(
        "organizations/<str:org_id>/authorizedApplications/<str:client_id>",
        api_revocation.AuthorizedAppAPI.as_view(),
        name="api-org-authorized-app",
    ),
]
