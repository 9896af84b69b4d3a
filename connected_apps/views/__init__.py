"""Portal pages of Connected Apps (owned apps, Create App, an app's page) and My apps."""

from connected_apps.views.apps import (
    AppCreateView,
    AppDeleteView,
    AppDetailView,
    AppEditView,
    AppEnabledView,
    AppListView,
    AppRotateSecretView,
    AppScopesView,
)
from connected_apps.views.my_apps import MyAppRevokeView, MyAppsView

__all__ = [
    "AppCreateView",
    "AppDeleteView",
    "AppDetailView",
    "AppEditView",
    "AppEnabledView",
    "AppListView",
    "AppRotateSecretView",
    "AppScopesView",
    "MyAppRevokeView",
    "MyAppsView",
]
