"""The audit API (SPEC §4, §7): list, streamed CSV, background exports."""

from __future__ import annotations

from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.urls import reverse
from drf_spectacular.utils import extend_schema_view
from rest_framework import renderers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import api_audit_schema as docs
from accounts.api import AccountsAPIView
from accounts.selectors import audit_org_get
from audit import selectors
from audit.models import AuditExport, AuditExportStatus
from audit.services import audit_export_start
from core.api_support import paginated


class CSVRenderer(renderers.BaseRenderer):
    """Lets `?format=csv` / `Accept: text/csv` through content negotiation; the view answers
    those with its own streamed response, so this only ever renders an error body."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return renderers.JSONRenderer().render(data)


def csv_response(lines, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


class AuditAPIView(AccountsAPIView):
    renderer_classes = [renderers.JSONRenderer, CSVRenderer]

    def finalize_response(self, request, response, *args, **kwargs):
        # Errors are JSON whatever was asked for (the error shape of every resource API).
        if isinstance(response, Response) and response.status_code >= 400:
            request.accepted_renderer = renderers.JSONRenderer()
            request.accepted_media_type = "application/json"
        return super().finalize_response(request, response, *args, **kwargs)


def export_data(request: Request, export: AuditExport) -> dict:
    done = export.status == AuditExportStatus.DONE
    return {
        "id": str(export.id),
        "status": export.status,
        "progress": export.progress,
        "total": export.total,
        "rowCount": export.row_count,
        "filters": export.filters,
        "createdAt": export.created_at.isoformat(),
        "finishedAt": export.finished_at.isoformat() if export.finished_at else None,
        "downloadUrl": reverse(
            "api-audit-export-download", args=[export.organization_id, export.id]
        )
        if done
        else None,
    }


@extend_schema_view(get=docs.audit_log_list)
class AuditLogsAPI(AuditAPIView):
    def get(self, request: Request, org_id: str):
        org = audit_org_get(access=self.access, org_id=org_id)
        filters = selectors.AuditFilters.parse(request.query_params)
        events = selectors.audit_event_list(org=org, filters=filters)
        if request.accepted_renderer.format == "csv":
            return csv_response(selectors.csv_stream(events), f"audit-{org.id}.csv")
        return Response(paginated(request, events, selectors.event_data))


def _export_get(view: AuditAPIView, org_id: str, export_id: str) -> AuditExport:
    org = audit_org_get(access=view.access, org_id=org_id)
    export = selectors.audit_export_get(org=org, export_id=export_id)
    if export is None:
        raise Http404("Export not found.")
    return export


@extend_schema_view(post=docs.audit_export_create)
class AuditExportsAPI(AuditAPIView):
    def post(self, request: Request, org_id: str) -> Response:
        org = audit_org_get(access=self.access, org_id=org_id)
        filters = selectors.AuditFilters.parse(request.query_params)
        export = audit_export_start(org=org, user=request.user, filters=filters)
        return Response(export_data(request, export), status=status.HTTP_202_ACCEPTED)


@extend_schema_view(get=docs.audit_export_read)
class AuditExportAPI(AuditAPIView):
    def get(self, request: Request, org_id: str, export_id: str) -> Response:
        return Response(export_data(request, _export_get(self, org_id, export_id)))


@extend_schema_view(get=docs.audit_export_download)
class AuditExportDownloadAPI(AuditAPIView):
    def get(self, request: Request, org_id: str, export_id: str):
        export = _export_get(self, org_id, export_id)
        if export.status != AuditExportStatus.DONE:
            raise Http404("This export is not finished.")
        response = HttpResponse(export.csv, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="audit-export-{export.id}.csv"'
        response["Cache-Control"] = "no-store"
        return response
