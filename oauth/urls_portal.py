"""Portal pages that revoke an authorization (SPEC §6, §8), beside My apps and Authorized apps.

config/urls.py serves them in connected_apps' namespace ("connected_apps:my_app_revoke",
"connected_apps:authorized_revoke"): they are those pages' actions, and oauth, whose services
they call, builds on connected_apps.
"""

from django.urls import path

from connected_apps.urls import AUTHORIZED
from oauth.views.revocation import AuthorizedAppRevokeView, MyAppRevokeView

urlpatterns = [
    path(
        f"{AUTHORIZED}/<str:client_id>/revoke",
        AuthorizedAppRevokeView.as_view(),
        name="authorized_revoke",
    ),
    path("my-apps/<str:client_id>/revoke", MyAppRevokeView.as_view(), name="my_app_revoke"),
]
