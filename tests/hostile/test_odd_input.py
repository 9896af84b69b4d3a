"""Odd input that gave a 500 or an HTML page where the contract says JSON (issue 13, items 5
and 6): each is now a JSON 4xx (or a correct answer), and nothing is half-written."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from accounts.models import PermissionGrant
from tests.oauth.tokenkit import (
    INTROSPECT_URL,
    LOGIN_URL,
    REVOKE_URL,
    TOKEN_URL,
    isolated_throttle,  # noqa: F401 (autouse fixture)
)

pytestmark = pytest.mark.django_db

LONE_SURROGATE = '"\\ud800"'  # JSON's escape for a UTF-16 half no UTF-8 can carry


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def assert_json_4xx(response, status: int | None = None) -> dict:
    assert 400 <= response.status_code < 500, (response.status_code, body_of(response)[:200])
    if status is not None:
        assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    return json.loads(body_of(response))


def test_a_bearer_header_on_the_authorize_page_is_no_500(code_app):
    response = Client().get(
        "/accounts/api/v2/oauth2/authorize",
        {"client_id": code_app.app.client_id, "response_type": "code"},
        HTTP_AUTHORIZATION="Bearer whatever",
    )
    assert response.status_code in (302, 400), response.status_code


@pytest.mark.parametrize("url", [TOKEN_URL, INTROSPECT_URL, REVOKE_URL, LOGIN_URL])
@pytest.mark.parametrize("field", ["username", "token", "client_id"])
def test_a_lone_surrogate_in_a_json_body_is_invalid_request(url, field):
    raw = f'{{"grant_type": "password", "password": "x", "{field}": {LONE_SURROGATE}}}'
    body = assert_json_4xx(Client().post(url, raw, content_type="application/json"))
    assert body["error"] in ("invalid_request", "invalid_client")


def test_a_lone_surrogate_in_an_api_body_is_a_400(client_for, admin, org):
    raw = f'{{"name": {LONE_SURROGATE}}}'
    response = client_for(admin).generic(
        "POST",
        f"/accounts/api/organizations/{org.id}/businessGroups",
        raw,
        content_type="application/json",
    )
    assert_json_4xx(response, 400)


@pytest.mark.parametrize("url", [TOKEN_URL, INTROSPECT_URL, REVOKE_URL])
def test_a_foreign_host_header_is_no_500(url, code_app):
    data = {"token": "x", "grant_type": "authorization_code", "code": "x"}
    auth = {"client_id": code_app.app.client_id, "client_secret": code_app.client_secret}
    response = Client().post(url, {**data, **auth}, HTTP_HOST="evil.example")
    assert response.status_code < 500
    assert response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("fmt", ["json", "csv"])
@pytest.mark.parametrize("offset", ["+16:00", "-23:59", "+00:00"])
def test_audit_dates_with_any_iso_offset(client_for, admin, org, fmt, offset):
    from urllib.parse import quote

    query = f"from={quote('2026-01-01T00:00:00' + offset)}&format={fmt}"
    response = client_for(admin).get(f"/accounts/api/organizations/{org.id}/auditLogs?{query}")
    assert response.status_code == 200
    body_of(response)  # a stream read to its end, never cut by an error


def test_an_audit_date_before_the_first_datetime_is_a_field_error(client_for, admin, org):
    response = client_for(admin).get(
        f"/accounts/api/organizations/{org.id}/auditLogs?from=0001-01-01T00:00:00%2B16:00"
    )
    assert assert_json_4xx(response, 400)["fields"]["from"]


@pytest.mark.parametrize(
    "url",
    [
        "/accounts/api/v2/oauth2/jwks",
        "/.well-known/openid-configuration",
        "/accounts/api/v2/oauth2/.well-known/openid-configuration",
    ],
)
def test_a_post_to_a_public_get_endpoint_is_a_json_405(url):
    response = Client(enforce_csrf_checks=True).post(url)
    body = assert_json_4xx(response, 405)
    assert body["error"] == "invalid_request"
    assert "GET" in response["Allow"]


def test_an_unsupported_method_on_userinfo_is_a_json_405():
    response = Client().put("/accounts/api/v2/oauth2/userinfo")
    assert_json_4xx(response, 405)


def test_a_session_write_without_its_csrf_token_is_a_json_403(admin, org):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    response = client.post(
        f"/accounts/api/organizations/{org.id}/businessGroups",
        json.dumps({"name": "Team"}),
        content_type="application/json",
    )
    assert_json_4xx(response, 403)


def test_item_errors_of_a_list_are_a_list_of_strings(client_for, admin, org, member):
    response = client_for(admin).put(
        f"/accounts/api/organizations/{org.id}/users/{member.id}/permissions",
        {"permissions": ["", ""]},
        format="json",
    )
    body = assert_json_4xx(response, 400)
    messages = body["fields"]["permissions"]
    assert isinstance(messages, list)
    assert all(isinstance(m, str) for m in messages)
    assert messages[0].startswith("item 1: ")
    assert not PermissionGrant.objects.filter(user=member).exists()


# Found by Schemathesis (tests/hostile/test_schemathesis.py): a boolean query parameter with
# any other value than true/false silently meant false.
@pytest.mark.parametrize("value", ["yes", "1", "True", "null"])
def test_include_usage_is_true_or_false(client_for, admin, code_app, value):
    apps = "/accounts/api/connectedApplications"
    for url in (apps, f"{apps}/{code_app.app.client_id}"):
        response = client_for(admin).get(f"{url}?includeUsage={value}")
        assert assert_json_4xx(response, 400)["fields"] == {
            "includeUsage": ["Must be true or false."]
        }
    assert "usage" not in client_for(admin).get(f"{apps}?includeUsage=false").json()["data"][0]


def test_reset_secret_is_true_or_false(client_for, admin, code_app):
    app = code_app.app
    stored = app.client_secret
    url = f"/accounts/api/connectedApplications/{app.client_id}"
    response = client_for(admin).patch(f"{url}?resetSecret=yes", {}, format="json")
    assert assert_json_4xx(response, 400)["fields"] == {"resetSecret": ["Must be true or false."]}
    app.refresh_from_db()
    assert app.client_secret == stored  # not rotated
