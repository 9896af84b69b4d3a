"""Shapes every resource API shares, for the OpenAPI schema only: the error body, the
`{"data": [...], "total": N}` list envelope, the paging parameters and the error responses.

Nothing here validates or renders a request: core.api_errors builds the error body and
core.api_support.paginated the envelope (around items the apps' serializers render). These
serializers describe those dicts.
"""

from __future__ import annotations

from functools import cache

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers

from core.api_support import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET


class ApiError(serializers.Serializer):
    """core.api_errors.error_body: the one shape of every resource-API error."""

    error = serializers.CharField(
        help_text="Machine-readable code: `invalid_request`, `unauthorized`, `invalid_token`, "
        "`forbidden`, `insufficient_scope`, `not_found`, `request_too_large`, …"
    )
    message = serializers.CharField(help_text="What went wrong, in words a person can read.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Only for invalid input: the messages for each field that was refused "
        "(`non_field_errors` for the body as a whole).",
    )


class ClosedBody(OpenApiSerializerExtension):
    """A body that refuses fields it does not know (accounts.serializers.StrictSerializer and
    its subclasses) says so: `additionalProperties: false`; and `minProperties` when the
    serializer names one (`schema_min_properties`: an empty body changes nothing, a 400)."""

    target_class = "accounts.serializers.StrictSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema, direction) -> dict:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        schema = {**schema, "additionalProperties": False}
        minimum = getattr(self.target, "schema_min_properties", None)
        return schema if minimum is None else {**schema, "minProperties": minimum}


ERROR_DESCRIPTIONS = {
    400: "Invalid input: `fields` names each refused field.",
    401: 'No credentials (`WWW-Authenticate: Bearer realm="doorman"`, no error code, '
    'RFC 6750 §3.1), or an invalid, expired or revoked token (`error="invalid_token"`).',
    403: 'A live token without the scope this call needs (`error="insufficient_scope"`), '
    "or a caller without the permission in that organization.",
    404: "No such resource in the caller's organization tree.",
    413: "The request body is too large.",
    415: "The body is not JSON: send `Content-Type: application/json`.",
    429: "Too many of these: retry after `Retry-After` seconds.",
    503: "A service this call needs (the mail server) is briefly away: retry after "
    "`Retry-After` seconds; nothing was done.",
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """`{status: response}` for the given error statuses, each with the ApiError body."""
    return {
        code: OpenApiResponse(response=ApiError, description=ERROR_DESCRIPTIONS[code])
        for code in codes
    }


# Every authenticated call may be refused these ways; one taking input (a body, paging) also 400.
READ_ERRORS = (401, 403, 404)
INPUT_ERRORS = (400, 401, 403, 404)
# And every call with a body, which is parsed before the view runs (DoormanAutoSchema adds them).
BODY_ERRORS = (413, 415)

OFFSET = OpenApiParameter(
    "offset",
    {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
    description="How many items to skip (default 0).",
)
LIMIT = OpenApiParameter(
    "limit",
    {"type": "integer", "minimum": 0, "maximum": MAX_LIMIT},
    description=f"Page size (default {DEFAULT_LIMIT}, at most {MAX_LIMIT}).",
)
SEARCH = OpenApiParameter(
    "search", OpenApiTypes.STR, description="Case-insensitive text to look for."
)
PAGING = [OFFSET, LIMIT]


@cache
def list_of(item: type[serializers.Serializer]) -> serializers.Serializer:
    """The list envelope of SPEC §4 around `item`, as one named component per item type."""
    name = item.__name__.removesuffix("Output")
    envelope = inline_serializer(
        name=f"{name}List",
        fields={
            "data": item(many=True),
            "total": serializers.IntegerField(help_text="How many items match, on all pages."),
        },
    )
    envelope.is_list_envelope = True
    return envelope
