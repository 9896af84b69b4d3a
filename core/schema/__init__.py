"""The OpenAPI 3 schema of Doorman's JSON APIs (drf-spectacular): what every API shares.

- `shapes`: what every resource API shares (error body, list envelope, paging, errors);
- `security`: the `bearerAuth` and `cookieAuth` security schemes;
- `DoormanAutoSchema`: the REST_FRAMEWORK `DEFAULT_SCHEMA_CLASS`.

Each app documents its own views next to them (`<app>/api_schema.py`); the authorization
server's plain-Django endpoints are a hand-written fragment in `oauth/api_schema/`, merged in
by its POSTPROCESSING_HOOK. The schema is served at /accounts/api/openapi.json (and .yaml) and
browsed at /developer/api-docs.
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema

from core.schema import security  # noqa: F401 (registers the security schemes)
from core.schema.shapes import (
    BODY_ERRORS,
    ERROR_DESCRIPTIONS,
    INPUT_ERRORS,
    PAGING,
    READ_ERRORS,
    SEARCH,
    ApiError,
    error_responses,
    list_of,
)

__all__ = [
    "INPUT_ERRORS",
    "PAGING",
    "READ_ERRORS",
    "SEARCH",
    "ApiError",
    "DoormanAutoSchema",
    "error_responses",
    "list_of",
]


class DoormanAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, with descriptions only from `extend_schema`, naming an
    operation that answers the `{"data", "total"}` envelope `…_list` as it names a list view's
    (else a list and a detail route collide), and documenting on every operation that takes a
    body the refusals of its parser (413, 415)."""

    def get_operation(self, *args, **kwargs) -> dict | None:
        operation = super().get_operation(*args, **kwargs)
        if operation and "requestBody" in operation:
            error = self.resolve_serializer(ApiError, "response").ref
            for code in BODY_ERRORS:
                operation["responses"].setdefault(
                    str(code),
                    {
                        "description": ERROR_DESCRIPTIONS[code],
                        "content": {"application/json": {"schema": error}},
                    },
                )
        return operation

    def get_description(self) -> str:
        # Only what extend_schema(description=…) says: view docstrings are for maintainers.
        return ""

    def get_operation_id(self) -> str:
        operation_id = super().get_operation_id()
        responses = self.get_response_serializers()
        ok = responses.get(200) if isinstance(responses, dict) else None
        if getattr(ok, "is_list_envelope", False):
            return operation_id.removesuffix("_retrieve") + "_list"
        return operation_id
