"""The audit API (SPEC §4, §7): list, streamed CSV, background exports."""

from __future__ import annotations

from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import renderers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api import AccountsAPIView
from accounts.selectors import audit_org_get
from accounts.serializers import AuditEventOutput, AuditExportOutput
from audit import selectors
from audit.models import AuditExport, AuditExportStatus, AuditOutcome
from audit.services import audit_export_start
from core.api_support import paginated
from core.schema import PAGING, list_of

FILTERS = [
    OpenApiParameter(
        "from", OpenApiTypes.DATETIME, description="Events at or after this ISO 8601 time."
    ),
    OpenApiParameter(
        "to", OpenApiTypes.DATETIME, description="Events at or before this ISO 8601 time."
    ),
    OpenApiParameter(
        "actor", OpenApiTypes.STR, description="A username, a user id or an app's client_id."
    ),
    OpenApiParameter(
        "client_id",
        OpenApiTypes.STR,
        description="Every event of this app's history, also after it was deleted: what was "
        "done to it (created, changed, secret rotated, scopes, allowlist, consents, revoked, "
        "deleted) and what it did (tokens issued and refused, the writes of its API calls).",
    ),
    OpenApiParameter("action", OpenApiTypes.STR, description="One action, e.g. `token.issued`."),
    OpenApiParameter(
        "outcome", OpenApiTypes.STR, enum=AuditOutcome.values, description="success or failure."
    ),
]
FORMAT = OpenApiParameter(
    "format",
    OpenApiTypes.STR,
    enum=["json", "csv"],
    description="`csv` (or `Accept: text/csv`) streams every matching event as CSV.",
)


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


@extend_schema(tags=["Audit"])
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


class AuditLogsAPI(AuditAPIView):
    @extend_schema(
        summary="Audit events of an organization and its business groups",
        description="Needs `read:audit_logs` in the organization. Newest first.",
        parameters=[*FILTERS, *PAGING, FORMAT],
        responses={
            (200, "application/json"): list_of(AuditEventOutput),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The CSV export."),
        },
    )
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


class AuditExportsAPI(AuditAPIView):
    @extend_schema(
        summary="Start a background CSV export",
        description="Same filters as the list; poll the export until `status` is `done`.",
        parameters=FILTERS,
        request=None,
        responses={202: AuditExportOutput},
    )
    def post(self, request: Request, org_id: str) -> Response:
        org = audit_org_get(access=self.access, org_id=org_id)
        filters = selectors.AuditFilters.parse(request.query_params)
        export = audit_export_start(org=org, user=request.user, filters=filters)
        return Response(export_data(request, export), status=status.HTTP_202_ACCEPTED)


class AuditExportAPI(AuditAPIView):
    @extend_schema(summary="An export's status and progress", responses=AuditExportOutput)
    def get(self, request: Request, org_id: str, export_id: str) -> Response:
        return Response(export_data(request, _export_get(self, org_id, export_id)))


class AuditExportDownloadAPI(AuditAPIView):
    @extend_schema(
        summary="The CSV of a finished export",
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The CSV.")},
    )
    def get(self, request: Request, org_id: str, export_id: str):
        export = _export_get(self, org_id, export_id)
        if export.status != AuditExportStatus.DONE:
            raise Http404("This export is not finished.")
        response = HttpResponse(export.csv, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="audit-export-{export.id}.csv"'
        response["Cache-Control"] = "no-store"
        return response
