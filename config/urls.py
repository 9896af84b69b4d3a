"""Top-level URLs: the portal at /, allauth pages under /auth/, the JSON API and the
authorization server under /accounts/ (SPEC §4, §8)."""

from django.urls import include, path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularYAMLAPIView

from accounts import urls as portal_pages
from accounts.views.sign_in import SignInView
from accounts.views.sso import SamlFinishView, SamlLogoutView
from connected_apps import urls as connected_apps_pages
from core import health
from oauth import urls_portal as revocation_pages
from oauth.api import PlatformLogoutAPI
from oauth.views.oidc import DoormanDiscoveryView
from oauth.views.platform_login import PlatformLoginView

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
    # allauth's sign-in page with home-realm discovery first, then the rest of allauth's.
    path("auth/login/", SignInView.as_view(), name="account_login"),
    # allauth's end of a SAML sign-in and its logout URL, refusing an unreadable message
    # rather than failing; then the rest of allauth's.
    path(
        "auth/saml/<str:organization_slug>/acs/finish/",
        SamlFinishView.as_view(),
        name="saml_finish_acs",
    ),
    path("auth/saml/<str:organization_slug>/sls/", SamlLogoutView.as_view(), name="saml_sls"),
    path("auth/", include("allauth.urls")),
    path(".well-known/openid-configuration", DoormanDiscoveryView.as_view()),
    path("accounts/login", PlatformLoginView.as_view(), name="platform-login"),
    path("accounts/logout", PlatformLogoutAPI.as_view(), name="platform-logout"),
    path("accounts/api/v2/oauth2/", include("oauth.urls")),
    path("accounts/api/openapi.json", SpectacularJSONAPIView.as_view(), name="openapi-schema"),
    path("accounts/api/openapi.yaml", SpectacularYAMLAPIView.as_view(), name="openapi-schema-yaml"),
    path("developer/", include("developer.urls")),
    path("accounts/api/", include("connected_apps.urls_api")),
    path("accounts/api/", include("oauth.urls_api")),
    path("accounts/api/", include("accounts.urls_api")),
    path("", include("accounts.urls_audit", namespace="audit")),
    # connected_apps' pages and oauth's pages revoking what they list, in one namespace.
    path(
        "",
        include(
            (
                [*connected_apps_pages.urlpatterns, *revocation_pages.urlpatterns],
                connected_apps_pages.app_name,
            )
        ),
    ),
    # accounts' pages and the home page, connected_apps' dashboard, in one namespace.
    path(
        "",
        include(
            ([*connected_apps_pages.home_urlpatterns, *portal_pages.urlpatterns], "portal"),
            namespace="portal",
        ),
    ),
]

handler400 = "core.api_errors.json_bad_request"
handler403 = "core.api_errors.json_forbidden"
handler404 = "core.api_errors.json_not_found"
handler500 = "core.api_errors.json_server_error"
