"""Portal pages of Connected Apps and My apps, namespace "connected_apps" (SPEC §8). The pages
that revoke an authorization are oauth's (oauth/urls_portal.py); config/urls.py puts them in
this namespace too."""

from django.urls import path

from connected_apps import views

APPS = "access-management/connected-apps"
APP = f"{APPS}/<str:client_id>"
AUTHORIZED = "access-management/authorized-apps"

app_name = "connected_apps"

urlpatterns = [
    path(f"{APPS}/", views.AppListView.as_view(), name="app_list"),
    path(f"{APPS}/new/", views.AppCreateView.as_view(), name="app_create"),
    path(f"{APP}/", views.AppDetailView.as_view(), name="app_detail"),
    path(f"{APP}/settings", views.AppEditView.as_view(), name="app_edit"),
    path(f"{APP}/scopes", views.AppScopesView.as_view(), name="app_scopes"),
    path(f"{APP}/enabled", views.AppEnabledView.as_view(), name="app_enabled"),
    path(f"{APP}/rotate-secret", views.AppRotateSecretView.as_view(), name="app_rotate_secret"),
    path(f"{APP}/delete", views.AppDeleteView.as_view(), name="app_delete"),
    path(f"{APP}/disable", views.AppDisableView.as_view(), name="app_disable"),
    path(f"{AUTHORIZED}/", views.AuthorizedAppsView.as_view(), name="authorized_apps"),
    path(
        f"{AUTHORIZED}/settings",
        views.AuthorizedAppsSettingsView.as_view(),
        name="authorized_settings",
    ),
    path(f"{AUTHORIZED}/allowlist", views.AllowlistApproveView.as_view(), name="allowlist_approve"),
    path(
        f"{AUTHORIZED}/allowlist/<str:client_id>/approve",
        views.AllowlistApproveConfirmView.as_view(),
        name="allowlist_approve_confirm",
    ),
    path(
        f"{AUTHORIZED}/allowlist/<str:client_id>/remove",
        views.AllowlistRemoveView.as_view(),
        name="allowlist_remove",
    ),
    path("my-apps/", views.MyAppsView.as_view(), name="my_apps"),
]

# The portal's home page, named `portal:home` as it always was: config/urls.py puts it in the
# portal's namespace, with accounts' pages.
home_urlpatterns = [
    path("", views.DashboardView.as_view(), name="home"),
]
