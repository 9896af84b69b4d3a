"""Portal pages of Access Management (server-rendered), namespace "portal".

Everything about one org/BG lives under /access-management/organizations/<org_id>/; the short
forms /access-management/users/… address the viewer's root organization.
"""

from django.urls import path
from django.views.generic import RedirectView

from accounts import views

ORG = "access-management/organizations/<uuid:org_id>"

# The home page, `portal:home` at /, is the dashboard of connected_apps (it shows apps and token
# figures this app cannot read); config/urls.py puts it in this namespace.
urlpatterns = [
    # The viewer's own account
    path("account/", views.AccountView.as_view(), name="account"),
    path("account/profile", views.ProfileUpdateView.as_view(), name="account_profile"),
    path("account/sessions/", views.SessionsView.as_view(), name="sessions"),
    path(
        "account/sessions/end-all",
        views.SessionEndView.as_view(everywhere=True),
        name="sessions_end_all",
    ),
    path(
        "account/sessions/<str:session_id>/end",
        views.SessionEndView.as_view(),
        name="session_end",
    ),
    path(
        "access-management/",
        RedirectView.as_view(pattern_name="portal:home", permanent=False),
        name="access_management",
    ),
    # Organization and business groups
    path(
        "access-management/organizations/",
        views.OrganizationTreeView.as_view(),
        name="organization_tree",
    ),
    path(f"{ORG}/", views.OrganizationDetailView.as_view(), name="organization_detail"),
    path(f"{ORG}/rename", views.OrganizationRenameView.as_view(), name="organization_rename"),
    path(
        f"{ORG}/sign-in-policy",
        views.SecurityPolicyUpdateView.as_view(),
        name="security_policy_update",
    ),
    path(
        f"{ORG}/business-groups",
        views.BusinessGroupCreateView.as_view(),
        name="business_group_create",
    ),
    path(
        f"{ORG}/identity-providers",
        views.IdentityProviderCreateView.as_view(),
        name="identity_provider_create",
    ),
    path(
        f"{ORG}/identity-providers/<uuid:provider_id>/",
        views.IdentityProviderDetailView.as_view(),
        name="identity_provider_detail",
    ),
    path(f"{ORG}/sso/new", views.SsoProviderCreateView.as_view(), name="sso_provider_create"),
    path(
        f"{ORG}/identity-providers/<uuid:provider_id>/settings",
        views.SsoProviderSettingsView.as_view(),
        name="sso_provider_settings",
    ),
    path(
        f"{ORG}/identity-providers/<uuid:provider_id>/test",
        views.SsoConnectionTestView.as_view(),
        name="sso_connection_test",
    ),
    path(
        f"{ORG}/identity-providers/<uuid:provider_id>/verify-domains",
        views.SsoDomainsVerifyView.as_view(),
        name="sso_domains_verify",
    ),
    path(
        f"{ORG}/identity-providers/<uuid:provider_id>/users/<uuid:user_id>/unlink",
        views.IdentityLinkDeleteView.as_view(),
        name="identity_link_delete",
    ),
    # Environments
    path(
        "access-management/environments/",
        views.EnvironmentsIndexView.as_view(),
        name="environments",
    ),
    path(f"{ORG}/environments/", views.EnvironmentListView.as_view(), name="environment_list"),
    # Users and permissions
    path("access-management/users/", views.UserListView.as_view(), name="users"),
    path(
        "access-management/users/<uuid:user_id>/",
        views.UserPermissionsView.as_view(),
        name="user_detail",
    ),
    path(f"{ORG}/users/", views.UserListView.as_view(), name="user_list"),
    path(
        f"{ORG}/users/<uuid:user_id>/",
        views.UserPermissionsView.as_view(),
        name="user_permissions",
    ),
    path(
        f"{ORG}/users/<uuid:user_id>/enabled",
        views.UserEnabledView.as_view(),
        name="user_enabled",
    ),
    path(
        f"{ORG}/users/<uuid:user_id>/password-reset",
        views.UserPasswordResetView.as_view(),
        name="user_password_reset",
    ),
    path(
        f"{ORG}/users/<uuid:user_id>/remove",
        views.UserRemoveView.as_view(),
        name="user_remove",
    ),
]
