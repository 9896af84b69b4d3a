"""REST_FRAMEWORK's EXCEPTION_HANDLER: core's one JSON error shape (core.api_errors), with the
RFC 6750 codes of a refused bearer request. Apart from oauth.authentication, which DRF imports
while rest_framework.views is still loading (its default authentication classes)."""

from __future__ import annotations

from rest_framework.response import Response

from core.api_errors import api_exception_handler as core_api_exception_handler
from oauth.authentication import insufficient_scope_header, is_bearer_request


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """REST_FRAMEWORK's EXCEPTION_HANDLER: core's one JSON error shape, with the RFC 6750
    codes of a refused bearer request."""
    response = core_api_exception_handler(exc, context)
    if response is not None:
        _add_bearer_error(response, exc, context)
    return response


def _add_bearer_error(response: Response, exc: Exception, context: dict) -> None:
    """RFC 6750 §3.1 codes: `invalid_token` (401) and `insufficient_scope` (403)."""
    if response.status_code == 401 and getattr(exc, "default_code", "") == "invalid_token":
        response.data["error"] = "invalid_token"
    elif response.status_code == 403 and is_bearer_request(context.get("request")):
        response.data["error"] = "insufficient_scope"
        response["WWW-Authenticate"] = insufficient_scope_header()
