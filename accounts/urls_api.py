"""URLs of the accounts API, mounted at /accounts/api/, the audit log's included."""

from django.urls import path

from accounts import api, api_audit, api_security, api_sessions

urlpatterns = [
    path("profile", api.ProfileAPI.as_view(), name="api-profile"),
    path("me", api.ProfileAPI.as_view(), name="api-me"),
    path("profile/sessions", api_sessions.SessionsAPI.as_view(), name="api-sessions"),
    path(
        "profile/sessions/<str:session_id>",
        api_sessions.SessionAPI.as_view(),
        name="api-session",
    ),
    path("organizations/<str:org_id>", api.OrganizationAPI.as_view(), name="api-organization"),
    path(
        "organizations/<str:org_id>/securityPolicy",
        api_security.SecurityPolicyAPI.as_view(),
        name="api-security-policy",
    ),
    path(
        "organizations/<str:org_id>/businessGroups",
        api.BusinessGroupsAPI.as_view(),
        name="api-business-groups",
    ),
    path(
        "organizations/<str:org_id>/environments",
        api.EnvironmentsAPI.as_view(),
        name="api-environments",
    ),
    path("organizations/<str:org_id>/users", api.UsersAPI.as_view(), name="api-users"),
    path(
        "organizations/<str:org_id>/users/<str:user_id>",
        api.UserAPI.as_view(),
        name="api-user",
    ),
    path(
        "organizations/<str:org_id>/users/<str:user_id>/passwordReset",
        api.UserPasswordResetAPI.as_view(),
        name="api-user-password-reset",
    ),
    path(
        "organizations/<str:org_id>/users/<str:user_id>/permissions",
        api.UserPermissionsAPI.as_view(),
        name="api-user-permissions",
    ),
    path(
        "organizations/<str:org_id>/identityProviders",
        api.IdentityProvidersAPI.as_view(),
        name="api-identity-providers",
    ),
    path(
        "organizations/<str:org_id>/identityProviders/<str:provider_id>",
        api.IdentityProviderAPI.as_view(),
        name="api-identity-provider",
    ),
    path(
        "organizations/<str:org_id>/identityProviders/<str:provider_id>/test",
        api.IdentityProviderTestAPI.as_view(),
        name="api-identity-provider-test",
    ),
    path(
        "organizations/<str:org_id>/identityProviders/<str:provider_id>/verifyDomains",
        api.IdentityProviderDomainsAPI.as_view(),
        name="api-identity-provider-domains",
    ),
    path(
        "organizations/<str:org_id>/identityProviders/<str:provider_id>/users",
        api.IdentityLinksAPI.as_view(),
        name="api-identity-links",
    ),
    path(
        "organizations/<str:org_id>/identityProviders/<str:provider_id>/users/<str:user_id>",
        api.IdentityLinkAPI.as_view(),
        name="api-identity-link",
    ),
    # The audit log (SPEC §4, §7): list, streamed CSV, background exports.
    path(
        "organizations/<str:org_id>/auditLogs",
        api_audit.AuditLogsAPI.as_view(),
        name="api-audit-logs",
    ),
    path(
        "organizations/<str:org_id>/auditLogs/exports",
        api_audit.AuditExportsAPI.as_view(),
        name="api-audit-exports",
    ),
    path(
        "organizations/<str:org_id>/auditLogs/exports/<str:export_id>",
        api_audit.AuditExportAPI.as_view(),
        name="api-audit-export",
    ),
    path(
        "organizations/<str:org_id>/auditLogs/exports/<str:export_id>/download",
        api_audit.AuditExportDownloadAPI.as_view(),
        name="api-audit-export-download",
    ),
]
