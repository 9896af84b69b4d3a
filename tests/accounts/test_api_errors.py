"""One JSON error shape for every failure on an API path, HTML only for the portal."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import (
    BadRequest,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.test import RequestFactory
from rest_framework import exceptions, serializers
from rest_framework.test import APIClient

from accounts import selectors
from core import api_errors
from core.api_errors import api_exception_handler, error_body

API = "/accounts/api"


def handled(exc: Exception) -> tuple[int, dict]:
    response = api_exception_handler(exc, {})
    assert response is not None
    return response.status_code, response.data


def assert_json(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    return json.loads(response.content)


# -- the DRF exception handler ---------------------------------------------------------------------
def test_django_validation_error_with_fields():
    status, body = handled(DjangoValidationError({"name": ["Too long."], "type": ["Bad."]}))
    assert status == 400
    assert body == {
        "error": "invalid_request",
        "message": "name: Too long.",
        "fields": {"name": ["Too long."], "type": ["Bad."]},
    }


def test_django_validation_error_without_fields():
    status, body = handled(DjangoValidationError("Something is off."))
    assert status == 400
    assert body["message"] == "Something is off."
    assert body["fields"] == {"non_field_errors": ["Something is off."]}


def test_drf_validation_error_with_nested_list_errors():
    exc = serializers.ValidationError({"permissions": {0: ["Must be a string."]}})
    status, body = handled(exc)
    assert status == 400
    # The schema's shape, a list of strings per field: the item is named in the message.
    assert body["fields"] == {"permissions": ["item 1: Must be a string."]}
    assert body["message"] == "permissions: item 1: Must be a string."


def test_drf_validation_error_as_a_bare_list():
    status, body = handled(serializers.ValidationError(["Expected a JSON object."]))
    assert status == 400
    assert body["fields"] == {"non_field_errors": ["Expected a JSON object."]}
    assert body["message"] == "Expected a JSON object."


@pytest.mark.parametrize(
    ("exc", "status", "error"),
    [
        (PermissionDenied(), 403, "forbidden"),
        (PermissionDenied("You need read:users in Acme."), 403, "forbidden"),
        (Http404(), 404, "not_found"),
        (Http404("Organization not found."), 404, "not_found"),
        (RequestDataTooBig("big"), 413, "request_too_large"),
        (TooManyFieldsSent("many"), 413, "request_too_large"),
        (BadRequest("Bad charset."), 400, "invalid_request"),
        (exceptions.NotAuthenticated(), 401, "unauthorized"),
        (exceptions.MethodNotAllowed("DELETE"), 405, "method_not_allowed"),
        (exceptions.UnsupportedMediaType("text/plain"), 415, "unsupported_media_type"),
        (exceptions.NotAcceptable(), 406, "not_acceptable"),
        (exceptions.Throttled(wait=3), 429, "too_many_requests"),
        (exceptions.ParseError(), 400, "invalid_request"),
    ],
)
def test_exceptions_map_to_one_shape(exc, status, error):
    code, body = handled(exc)
    assert code == status
    assert body["error"] == error
    assert isinstance(body["message"], str)
    assert body["message"]
    assert set(body) <= {"error", "message", "fields"}


def test_throttled_keeps_retry_after():
    response = api_exception_handler(exceptions.Throttled(wait=3), {})
    assert response["Retry-After"] == "3"


def test_other_exceptions_are_left_to_django():
    assert api_exception_handler(RuntimeError("boom"), {}) is None


def test_error_body_omits_empty_fields():
    assert error_body(404, "Not found.") == {"error": "not_found", "message": "Not found."}
    assert error_body(500, "x")["error"] == "server_error"
    assert error_body(418, "x")["error"] == "error"


# -- Django's handlers -----------------------------------------------------------------------------
@pytest.fixture
def rf():
    return RequestFactory()


def test_404_handler_is_json_on_api_paths_and_html_elsewhere(rf, db):
    api = api_errors.json_not_found(rf.get(f"{API}/nope"), Http404())
    assert assert_json(api, 404)["error"] == "not_found"
    page = api_errors.json_not_found(rf.get("/nope"), Http404())
    assert page.status_code == 404
    assert not page["Content-Type"].startswith("application/json")


def test_500_handler_is_json_on_api_paths(rf):
    body = assert_json(api_errors.json_server_error(rf.get(f"{API}/profile")), 500)
    assert body == {"error": "server_error", "message": "Internal server error."}


def test_400_handler_answers_an_oversize_body_with_413(rf):
    request = rf.post(f"{API}/profile")
    response = api_errors.json_bad_request(request, RequestDataTooBig("big"))
    assert assert_json(response, 413)["error"] == "request_too_large"
    response = api_errors.json_bad_request(request, SuspiciousOperation("odd"))
    assert assert_json(response, 400)["error"] == "invalid_request"


def test_403_handler_is_json_on_api_paths(rf):
    body = assert_json(api_errors.json_forbidden(rf.get(f"{API}/x"), PermissionDenied()), 403)
    assert body["message"] == "Forbidden."


# -- end to end -----------------------------------------------------------------------------------
def test_an_unexpected_error_in_an_api_view_is_a_json_500_without_details(
    client_for, admin, org, monkeypatch
):
    def explode(**kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(selectors, "organization_read", explode)
    client = client_for(admin)
    client.raise_request_exception = False
    response = client.get(f"{API}/organizations/{org.id}")
    body = assert_json(response, 500)
    assert "secret internals" not in response.content.decode()
    assert body["error"] == "server_error"


def test_a_suspicious_operation_in_an_api_view_is_a_json_400(client_for, admin, org, monkeypatch):
    def suspicious(**kwargs):
        raise SuspiciousOperation("odd")

    monkeypatch.setattr(selectors, "organization_read", suspicious)
    client = client_for(admin)
    client.raise_request_exception = False
    assert_json(client.get(f"{API}/organizations/{org.id}"), 400)


def test_a_disallowed_host_on_an_api_path_is_a_json_400(db):
    client = APIClient()
    client.raise_request_exception = False
    response = client.get(f"{API}/profile", HTTP_HOST="evil.example")
    assert_json(response, 400)
