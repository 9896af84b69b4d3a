"""Portal pages of Access Management (server-rendered)."""

from django.urls import path

from accounts import views

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
]
