"""The OpenAPI 3 schema of Doorman's JSON APIs (drf-spectacular): what every API shares.

- `shapes`: what every resource API shares (error body, list envelope, paging, errors);
- `security`: the `bearerAuth` and `cookieAuth` security schemes;
- `DoormanAutoSchema`: the REST_FRAMEWORK `DEFAULT_SCHEMA_CLASS`;
- `ResourceAutoSchema`: the schema class of the resource API views (AccountsAPIView).

Each app's API views say their schema beside them (`extend_schema` in `<app>/api*.py`), from
the serializers they parse and render with (`<app>/serializers.py`); `ResourceAutoSchema` adds
the refusals they all share. The authorization server's plain-Django endpoints are a
hand-written fragment in `oauth/api_schema/`, merged in by its POSTPROCESSING_HOOK. The schema
is served at /accounts/api/openapi.json (and .yaml) and browsed at /developer/api-docs.
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
    "ResourceAutoSchema",
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
            self._document_errors(operation, BODY_ERRORS)
        return operation

    def _document_errors(self, operation: dict, codes: tuple[int, ...]) -> None:
        """Add the ApiError response for each of `codes` the operation does not document."""
        error = self.resolve_serializer(ApiError, "response").ref
        responses = operation["responses"]
        for code in codes:
            responses.setdefault(
                str(code),
                {
                    "description": ERROR_DESCRIPTIONS[code],
                    "content": {"application/json": {"schema": error}},
                },
            )
        operation["responses"] = dict(sorted(responses.items()))

    def get_description(self) -> str:
        # Only what extend_schema(description=…) says: view docstrings are for maintainers.
        return ""

    def get_operation_id(self) -> str:
        operation_id = super().get_operation_id()
        responses = self.get_response_serializers()
        ok = responses.get(200) if isinstance(responses, dict) else responses
        if getattr(ok, "is_list_envelope", False):
            return operation_id.removesuffix("_retrieve") + "_list"
        return operation_id


class ResourceAutoSchema(DoormanAutoSchema):
    """The schema of a resource API view (accounts.api.AccountsAPIView and its subclasses):
    every operation may be refused for its credentials, its scope or permission, or a resource
    it cannot see (401, 403, 404), and one taking input (a body, query parameters) for that
    input (400). The operations document their success responses only."""

    def get_operation(self, *args, **kwargs) -> dict | None:
        operation = super().get_operation(*args, **kwargs)
        if operation:
            # `format` is content negotiation: a value no renderer takes is a 404.
            query = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
            takes_input = "requestBody" in operation or bool(query - {"format"})
            self._document_errors(operation, INPUT_ERRORS if takes_input else READ_ERRORS)
        return operation
