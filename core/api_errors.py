"""One shape for every API error: `{"error": code, "message": …, "fields": {…}}`.

DRF exceptions, Django's `ValidationError`/`PermissionDenied`/`Http404` raised by services and
selectors, and oversize bodies all end here, so no API URL ever answers with an HTML page.
(config/asgi.py answers a body too large or too slow to arrive with `error_body` too.)
REST_FRAMEWORK's EXCEPTION_HANDLER is oauth.api_errors', which adds the RFC 6750 codes
of bearer requests to what `api_exception_handler` answers.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.exceptions import (
    BadRequest,
    PermissionDenied,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views import defaults
from django.views.csrf import csrf_failure
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from core.mail import MailUnavailable

ERROR_CODES = {
    status.HTTP_400_BAD_REQUEST: "invalid_request",
    status.HTTP_401_UNAUTHORIZED: "unauthorized",
    status.HTTP_403_FORBIDDEN: "forbidden",
    status.HTTP_404_NOT_FOUND: "not_found",
    status.HTTP_405_METHOD_NOT_ALLOWED: "method_not_allowed",
    status.HTTP_406_NOT_ACCEPTABLE: "not_acceptable",
    status.HTTP_408_REQUEST_TIMEOUT: "request_timeout",
    status.HTTP_409_CONFLICT: "conflict",
    status.HTTP_413_REQUEST_ENTITY_TOO_LARGE: "request_too_large",
    status.HTTP_415_UNSUPPORTED_MEDIA_TYPE: "unsupported_media_type",
    status.HTTP_422_UNPROCESSABLE_ENTITY: "validation_failed",
    status.HTTP_429_TOO_MANY_REQUESTS: "too_many_requests",
    status.HTTP_500_INTERNAL_SERVER_ERROR: "server_error",
    status.HTTP_503_SERVICE_UNAVAILABLE: "temporarily_unavailable",
}
TOO_LARGE = (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent)
TOO_LARGE_MESSAGE = "The request body is too large."
# The database is away, lost the connection, or a statement met DOORMAN_DB_STATEMENT_TIMEOUT:
# not the request's fault and not a bug, so a 503 to retry. Django drops the broken connection
# at the end of the request (it was marked by the error) and the next one connects anew.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
# Failures that last a moment: the answer is 503 with Retry-After, not 500.
UNAVAILABLE = (*DATABASE_UNAVAILABLE, MailUnavailable)
RETRY_AFTER_SECONDS = 1
UNAVAILABLE_MESSAGE = "The service is briefly unavailable; retry after Retry-After seconds."


def _django_validation_fields(exc: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {
            field: [str(m) for e in errs for m in e.messages]
            for field, errs in exc.error_dict.items()
        }
    return {"non_field_errors": list(exc.messages)}


def _messages(detail: Any, where: str = "") -> list[str]:
    """A field's errors as the schema says, a flat list of strings: errors of a list's items
    (DRF keys them by index) or of nested fields come with where they are ("item 2: …")."""
    if isinstance(detail, dict):
        found: list[str] = []
        for key, value in detail.items():
            place = f"item {int(key) + 1}" if str(key).isdigit() else str(key)
            found += _messages(value, f"{where}{place}: ")
        return found
    if isinstance(detail, list):
        return [message for item in detail for message in _messages(item, where)]
    return [f"{where}{detail}"]


def _flatten(detail: Any) -> Any:
    """DRF's error detail as `{field: [message, …]}` (or a list for non-field errors)."""
    if isinstance(detail, dict):
        return {str(k): _messages(v) for k, v in detail.items()}
    return _messages(detail)


def _first_message(fields: dict[str, Any]) -> str:
    for name, value in fields.items():
        while isinstance(value, list | dict):
            if not value:
                break
            value = value[0] if isinstance(value, list) else next(iter(value.values()))
        prefix = "" if name == "non_field_errors" else f"{name}: "
        return f"{prefix}{value}"
    return "Invalid input."


def error_body(status_code: int, message: str, fields: dict | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "error": ERROR_CODES.get(status_code, "error"),
        "message": message,
    }
    if fields:
        body["fields"] = fields
    return body


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        fields = _django_validation_fields(exc)
        return Response(error_body(400, _first_message(fields), fields), status=400)
    if isinstance(exc, TOO_LARGE):
        return Response(error_body(413, TOO_LARGE_MESSAGE), status=413)
    if isinstance(exc, BadRequest):
        return Response(error_body(400, str(exc) or "Bad request."), status=400)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or "You do not have permission to do this.")

    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        detail = _flatten(exc.detail)
        fields = detail if isinstance(detail, dict) else {"non_field_errors": detail}
        response.data = error_body(response.status_code, _first_message(fields), fields)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        response.data = error_body(response.status_code, str(detail))
    return response


def _is_api(request) -> bool:
    return request.path.startswith(("/accounts/", "/api/", "/.well-known/", "/metrics"))


def json_not_found(request, exception=None):
    """404 for API paths as JSON; the portal keeps its HTML page."""
    if _is_api(request):
        return JsonResponse(error_body(404, "Not found."), status=404)
    return defaults.page_not_found(request, exception)


def json_server_error(request):
    """handler500, called while Django handles the exception (any view, middleware or DRF
    authentication): a database or mail server that is away is a 503 with Retry-After,
    anything else a 500; JSON on API paths, the portal's page elsewhere."""
    if isinstance(sys.exc_info()[1], UNAVAILABLE):
        return unavailable(request)
    if _is_api(request):
        return JsonResponse(error_body(500, "Internal server error."), status=500)
    return defaults.server_error(request)


def unavailable(request):
    """503 with Retry-After: JSON on API paths, a short page for people elsewhere."""
    if _is_api(request):
        response = JsonResponse(error_body(503, UNAVAILABLE_MESSAGE), status=503)
    else:
        # Rendered without the request: context processors would read the database.
        response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def json_bad_request(request, exception=None):
    """400 for API paths as JSON; a body over the upload limit raised outside DRF (a
    SuspiciousOperation to Django) is still a 413."""
    if _is_api(request):
        if isinstance(exception, TOO_LARGE):
            return JsonResponse(error_body(413, TOO_LARGE_MESSAGE), status=413)
        return JsonResponse(error_body(400, "Bad request."), status=400)
    return defaults.bad_request(request, exception)


def json_forbidden(request, exception=None):
    if _is_api(request):
        return JsonResponse(error_body(403, str(exception) or "Forbidden."), status=403)
    return defaults.permission_denied(request, exception)


def json_csrf_failure(request, reason: str = ""):
    """CSRF_FAILURE_VIEW: a JSON 403 on API paths (a session-authenticated write without its
    token), Django's page elsewhere."""
    if _is_api(request):
        message = "CSRF check failed: send the X-CSRFToken header with the csrftoken cookie."
        return JsonResponse(error_body(403, message), status=403)
    return csrf_failure(request, reason)
