"""Authorization-server URLs at SPEC §4's paths.

The namespace must be `oauth2_provider`: DOT reverses its own view names in it (discovery,
metadata). Paths have no trailing slash, exactly as the SPEC names them.
"""

from django.urls import path

from oauth.views.authorize import DoormanAuthorizationView
from oauth.views.oidc import DoormanDiscoveryView, DoormanJwksView, DoormanUserInfoView
from oauth.views.token import DoormanIntrospectView, DoormanRevokeView, DoormanTokenView

app_name = "oauth2_provider"

urlpatterns = [
    path("authorize", DoormanAuthorizationView.as_view(), name="authorize"),
    path("token", DoormanTokenView.as_view(), name="token"),
    path("revoke", DoormanRevokeView.as_view(), name="revoke-token"),
    path("introspect", DoormanIntrospectView.as_view(), name="introspect"),
    path("jwks", DoormanJwksView.as_view(), name="jwks-info"),
    path("userinfo", DoormanUserInfoView.as_view(), name="user-info"),
    path(
        ".well-known/openid-configuration",
        DoormanDiscoveryView.as_view(),
        name="oidc-connect-discovery-info",
    ),
]
