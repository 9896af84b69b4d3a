from django.contrib import admin
from django.urls import include, path

from dotpeer.views import profile

urlpatterns = [
    path("admin/", admin.site.urls),
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("accounts/api/profile", profile),
]
