"""OpenAPI documentation of the audit API (audit.api). Documentation only."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers

from audit.models import AuditExportStatus, AuditOutcome
from core.schema import INPUT_ERRORS, PAGING, READ_ERRORS, error_responses, list_of


class AuditActorOutput(serializers.Serializer):
    type = serializers.CharField(help_text="`user` or `app`.")
    id = serializers.CharField(help_text="The user's id, or the app's client_id.")
    name = serializers.CharField()


class AuditTargetOutput(serializers.Serializer):
    type = serializers.CharField()
    id = serializers.CharField()


class AuditEventOutput(serializers.Serializer):
    id = serializers.UUIDField()
    timestamp = serializers.DateTimeField()
    action = serializers.CharField(help_text="`app.created`, `token.issued`, …")
    outcome = serializers.ChoiceField(choices=AuditOutcome.choices)
    org_id = serializers.UUIDField(allow_null=True)
    actor = AuditActorOutput(allow_null=True, help_text="Null for a system event.")
    target = AuditTargetOutput()
    client_ip = serializers.IPAddressField(allow_null=True)
    user_agent = serializers.CharField()
    details = serializers.DictField(help_text="Never holds a secret, a token or a code.")


class AuditExportOutput(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=AuditExportStatus.choices)
    progress = serializers.IntegerField(help_text="Percent done, 0-100.")
    total = serializers.IntegerField()
    rowCount = serializers.IntegerField()
    filters = serializers.DictField(child=serializers.CharField())
    createdAt = serializers.DateTimeField()
    finishedAt = serializers.DateTimeField(allow_null=True)
    downloadUrl = serializers.CharField(allow_null=True)


def _param(name: str, description: str, type_=OpenApiTypes.STR) -> OpenApiParameter:
    return OpenApiParameter(name, type_, description=description)


FILTERS = [
    _param("from", "Events at or after this ISO 8601 time.", OpenApiTypes.DATETIME),
    _param("to", "Events at or before this ISO 8601 time.", OpenApiTypes.DATETIME),
    _param("actor", "A username, a user id or an app's client_id."),
    _param(
        "client_id",
        "Every event of this app's history, also after it was deleted: what was done to it "
        "(created, changed, secret rotated, scopes, allowlist, consents, revoked, deleted) and "
        "what it did (tokens issued and refused, the writes of its API calls).",
    ),
    _param("action", "One action, e.g. `token.issued`."),
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

audit_log_list = extend_schema(
    tags=["Audit"],
    summary="Audit events of an organization and its business groups",
    description="Needs `read:audit_logs` in the organization. Newest first.",
    parameters=[*FILTERS, *PAGING, FORMAT],
    responses={
        (200, "application/json"): list_of(AuditEventOutput),
        (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The CSV export."),
        **error_responses(*INPUT_ERRORS),
    },
)
audit_export_create = extend_schema(
    tags=["Audit"],
    summary="Start a background CSV export",
    description="Same filters as the list; poll the export until `status` is `done`.",
    parameters=FILTERS,
    request=None,
    responses={202: AuditExportOutput, **error_responses(*INPUT_ERRORS)},
)
audit_export_read = extend_schema(
    tags=["Audit"],
    summary="An export's status and progress",
    responses={200: AuditExportOutput, **error_responses(*READ_ERRORS)},
)
audit_export_download = extend_schema(
    tags=["Audit"],
    summary="The CSV of a finished export",
    responses={
        (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The CSV."),
        **error_responses(*READ_ERRORS),
    },
)
