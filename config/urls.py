"""Top-level URLs: the portal at /, allauth pages under /auth/, the JSON API under /accounts/."""

from django.urls import include, path

urlpatterns = [
    path("auth/", include("allauth.urls")),
    path("accounts/api/", include("accounts.urls_api")),
    path("", include(("accounts.urls", "portal"), namespace="portal")),
]

handler400 = "config.api_errors.json_bad_request"
handler403 = "config.api_errors.json_forbidden"
handler404 = "config.api_errors.json_not_found"
handler500 = "config.api_errors.json_server_error"
