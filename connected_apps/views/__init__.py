"""Portal pages of Connected Apps (owned apps, Create App, an app's page), Authorized apps, My
apps, and the portal's home page (a dashboard per role). Revoking an authorization is oauth's
(oauth.views.revocation), in this URL namespace."""

from connected_apps.views.app_pages import (
    ALREADY_ROTATED,
    AppDeleteView,
    AppDetailView,
    AppDisableView,
    AppEditView,
    AppEnabledView,
    AppRotateSecretView,
    AppScopesView,
)
from connected_apps.views.authorized import (
    AllowlistApproveConfirmView,
    AllowlistApproveView,
    AllowlistRemoveView,
    AuthorizedAppsSettingsView,
    AuthorizedAppsView,
)
from connected_apps.views.dashboard import DashboardView
from connected_apps.views.my_apps import MyAppsView
from connected_apps.views.owned_apps import (
    ALREADY_CREATED,
    NO_MANAGED_ORG,
    AppCreateView,
    AppListView,
)

__all__ = [
    "ALREADY_CREATED",
    "ALREADY_ROTATED",
    "NO_MANAGED_ORG",
    "AllowlistApproveConfirmView",
    "AllowlistApproveView",
    "AllowlistRemoveView",
    "AppCreateView",
    "AppDeleteView",
    "AppDetailView",
    "AppDisableView",
    "AppEditView",
    "AppEnabledView",
    "AppListView",
    "AppRotateSecretView",
    "AppScopesView",
    "AuthorizedAppsSettingsView",
    "AuthorizedAppsView",
    "DashboardView",
    "MyAppsView",
]
