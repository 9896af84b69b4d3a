"""Developer pages, namespace "developer"."""

from django.urls import path

from developer import views

app_name = "developer"

urlpatterns = [
    path("playground", views.PlaygroundView.as_view(), name="playground"),
    path("api-docs", views.ApiDocsView.as_view(), name="api_docs"),
]
