"""Portal pages of the audit log, under /access-management/audit/ (namespace "audit"). The
trail is the audit app's; who may read which org's is accounts'."""

from django.urls import path

from accounts import views

app_name = "audit"

urlpatterns = [
    path("access-management/audit/", views.AuditLogView.as_view(), name="log"),
    path("access-management/audit/export.csv", views.AuditCSVView.as_view(), name="export_csv"),
    path(
        "access-management/audit/exports",
        views.AuditExportStartView.as_view(),
        name="export_start",
    ),
]
