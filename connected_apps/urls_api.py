"""URLs of the connected-apps API, mounted at /accounts/api/ (both addressings of SPEC §4).
Revoking an authorization is oauth's (oauth/urls_api.py)."""

from django.urls import path

from connected_apps import api, api_controls, api_me


def _routes(prefix: str, name_prefix: str) -> list:
    return [
        path(
            f"{prefix}connectedApplications",
            api.ConnectedAppsAPI.as_view(),
            name=f"{name_prefix}apps",
        ),
        path(
            f"{prefix}connectedApplications/<str:client_id>",
            api.ConnectedAppAPI.as_view(),
            name=f"{name_prefix}app",
        ),
        path(
            f"{prefix}connectedApplications/<str:client_id>/client-secret",
            api.ConnectedAppSecretAPI.as_view(),
            name=f"{name_prefix}app-secret",
        ),
        path(
            f"{prefix}connectedApplications/<str:client_id>/scopes",
            api.ConnectedAppScopesAPI.as_view(),
            name=f"{name_prefix}app-scopes",
        ),
        path(
            f"{prefix}connectedApplications/<str:client_id>/usage",
            api.ConnectedAppUsageAPI.as_view(),
            name=f"{name_prefix}app-usage",
        ),
    ]


urlpatterns = [
    *_routes("", "api-"),
    *_routes("organizations/<str:org_id>/", "api-org-"),
    # The caller's own authorized apps (My apps).
    path(
        "users/me/connectedApplications",
        api_me.MyConnectedAppsAPI.as_view(),
        name="api-my-apps",
    ),
    # Org controls (SPEC §6): settings, allowlist, apps the org's users authorized.
    path(
        "organizations/<str:org_id>/connectedApplicationsSettings",
        api_controls.OrgAppSettingsAPI.as_view(),
        name="api-org-apps-settings",
    ),
    path(
        "organizations/<str:org_id>/connectedApplicationsAllowlist",
        api_controls.AllowlistAPI.as_view(),
        name="api-org-allowlist",
    ),
    path(
        "organizations/<str:org_id>/connectedApplicationsAllowlist/<str:client_id>",
        api_controls.AllowlistEntryAPI.as_view(),
        name="api-org-allowlist-entry",
    ),
    path(
        "organizations/<str:org_id>/authorizedApplications",
        api_controls.AuthorizedAppsAPI.as_view(),
        name="api-org-authorized-apps",
    ),
]
