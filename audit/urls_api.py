"""URLs of the audit API, mounted at /accounts/api/."""

from django.urls import path

from audit import api

urlpatterns = [
    path("organizations/<str:org_id>/auditLogs", api.AuditLogsAPI.as_view(), name="api-audit-logs"),
    path(
        "organizations/<str:org_id>/auditLogs/exports",
        api.AuditExportsAPI.as_view(),
        name="api-audit-exports",
    ),
    path(
        "organizations/<str:org_id>/auditLogs/exports/<str:export_id>",
        api.AuditExportAPI.as_view(),
        name="api-audit-export",
    ),
    path(
        "organizations/<str:org_id>/auditLogs/exports/<str:export_id>/download",
        api.AuditExportDownloadAPI.as_view(),
        name="api-audit-export-download",
    ),
]
