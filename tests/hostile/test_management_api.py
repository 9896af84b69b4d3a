"""The management API under arbitrary JSON (SPEC §4, STYLE "Errors"): 2xx, or a 4xx JSON error
`{"error", "message"}`; never a 500 or an HTML page, and a refused request writes no row."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from accounts.models import Environment, Organization, PermissionGrant, RoleGrant, User
from connected_apps.models import AllowlistEntry, AppScope, ConnectedApp
from tests.hostile.conftest import examples
from tests.hostile.strategies import JSON_VALUE, NASTY_TEXT

pytestmark = pytest.mark.django_db

MODELS = (
    Organization,
    Environment,
    User,
    PermissionGrant,
    RoleGrant,
    ConnectedApp,
    AppScope,
    AllowlistEntry,
)
API = "/accounts/api"
GRANTS = ["authorization_code", "refresh_token", "client_credentials", "password", "implicit"]
SCOPES = ["openid", "profile", "view:environment", "read:organization", "full", "nope"]


def row_counts() -> tuple[int, ...]:
    return tuple(model.objects.count() for model in MODELS)


def text_or(values: list[str]) -> st.SearchStrategy:
    return st.one_of(st.sampled_from(values), NASTY_TEXT)


def near_valid(fields: dict[str, st.SearchStrategy]) -> st.SearchStrategy[dict]:
    """Objects with the endpoint's own field names and plausible-to-hostile values, so the
    input reaches validation and the services instead of stopping at the first type check."""
    return st.fixed_dictionaries(
        {}, optional={name: st.one_of(strategy, JSON_VALUE) for name, strategy in fields.items()}
    )


SCOPE_ITEM = st.one_of(
    text_or(SCOPES),
    st.fixed_dictionaries(
        {"scope": text_or(SCOPES)},
        optional={"context_params": st.dictionaries(text_or(["org", "envId"]), JSON_VALUE)},
    ),
)
APP_FIELDS = {
    "client_name": NASTY_TEXT,
    "grant_types": st.lists(text_or(GRANTS), max_size=4),
    "redirect_uris": st.lists(
        text_or(["https://client.example/cb", "http://localhost:8080/cb", "javascript:x"]),
        max_size=3,
    ),
    "scopes": st.lists(SCOPE_ITEM, max_size=3),
    "public_keys": st.lists(NASTY_TEXT, max_size=2),
    "audience": text_or(["internal", "everyone"]),
    "owner_org_id": NASTY_TEXT,
    "website_url": NASTY_TEXT,
    "enabled": st.booleans(),
}
USER_FIELDS = {
    name: NASTY_TEXT for name in ("username", "email", "password", "firstName", "lastName")
}
NAMED_FIELDS = {"name": NASTY_TEXT, "type": text_or(["sandbox", "production"])}


def assert_api_safe(response, rows_before) -> None:
    status = response.status_code
    assert status < 500, (status, response.content[:300])
    if status == 204:
        return
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    text = response.content.decode("utf-8", "replace")
    assert "Traceback" not in text and "<html" not in text.lower(), text[:300]
    body = json.loads(text)
    if status >= 400:
        assert isinstance(body.get("error"), str) and body["error"], body
        assert "message" in body, body
        assert row_counts() == rows_before


@pytest.fixture
def endpoints(org, code_app):
    app = code_app.app.client_id
    return {
        "create-app": ("post", f"{API}/connectedApplications", APP_FIELDS),
        "change-app": ("patch", f"{API}/connectedApplications/{app}", APP_FIELDS),
        "org-change-app": (
            "patch",
            f"{API}/organizations/{org.id}/connectedApplications/{app}",
            APP_FIELDS,
        ),
        "replace-scopes": (
            "put",
            f"{API}/connectedApplications/{app}/scopes",
            {"scopes": st.lists(SCOPE_ITEM, max_size=3)},
        ),
        "add-user": ("post", f"{API}/organizations/{org.id}/users", USER_FIELDS),
        "add-environment": ("post", f"{API}/organizations/{org.id}/environments", NAMED_FIELDS),
        "add-business-group": (
            "post",
            f"{API}/organizations/{org.id}/businessGroups",
            NAMED_FIELDS,
        ),
        "org-settings": (
            "put",
            f"{API}/organizations/{org.id}/connectedApplicationsSettings",
            {"enabled": st.booleans(), "allowlist_enabled": st.booleans()},
        ),
        "allowlist": (
            "post",
            f"{API}/organizations/{org.id}/connectedApplicationsAllowlist",
            {"client_id": text_or([app])},
        ),
    }


@pytest.mark.parametrize(
    "name",
    [
        "create-app",
        "change-app",
        "org-change-app",
        "replace-scopes",
        "add-user",
        "add-environment",
        "add-business-group",
        "org-settings",
        "allowlist",
    ],
)
def test_arbitrary_json_is_a_2xx_or_a_json_4xx_without_partial_rows(name, endpoints, admin):
    method, url, fields = endpoints[name]
    client = APIClient()
    client.force_authenticate(user=admin)

    @settings(max_examples=examples(25))
    @given(body=st.one_of(near_valid(fields), JSON_VALUE))
    def check(body):
        before = row_counts()
        response = getattr(client, method)(url, body, format="json")
        assert_api_safe(response, before)

    check()


@pytest.mark.parametrize("method", ["post", "patch", "put"])
def test_malformed_bodies_are_json_400s(method, code_app, admin):
    client = APIClient()
    client.force_authenticate(user=admin)
    url = f"{API}/connectedApplications/{code_app.app.client_id}"
    if method == "post":
        url = f"{API}/connectedApplications"
    elif method == "put":
        url += "/scopes"

    @settings(max_examples=examples(15))
    @given(
        raw=st.one_of(
            st.binary(max_size=200),
            st.sampled_from([b"{", b"\xff", b"[" * 3000 + b"]" * 3000, b"NaN", b'{"a":1e999}']),
        ),
        content_type=st.sampled_from(
            ["application/json", "application/x-www-form-urlencoded", "text/plain", ""]
        ),
    )
    def check(raw, content_type):
        before = row_counts()
        response = client.generic(method.upper(), url, raw, content_type=content_type)
        assert_api_safe(response, before)

    check()


@pytest.mark.parametrize("name", ["\x00", "App\x00", "a\nb", "tab\there", "\x7f"])
@pytest.mark.parametrize("method", ["post", "patch"])
def test_control_characters_in_an_app_name_are_a_400(name, method, code_app, admin):
    """Found by the property above on PostgreSQL: a NUL in client_name was a 500."""
    client = APIClient()
    client.force_authenticate(user=admin)
    before = row_counts()
    if method == "post":
        body = {"client_name": name, "grant_types": ["client_credentials"], "scopes": []}
        response = client.post(f"{API}/connectedApplications", body, format="json")
    else:
        url = f"{API}/connectedApplications/{code_app.app.client_id}"
        response = client.patch(url, {"client_name": name}, format="json")
    assert response.status_code == 400, response.content
    assert "client_name" in response.json()["fields"]
    assert row_counts() == before


@pytest.mark.parametrize("scopes", [True, 1, 1.5, {"scope": "openid"}, "openid"])
@pytest.mark.parametrize("route", ["create", "patch", "put-scopes"])
def test_scopes_that_are_not_a_list_are_a_400(scopes, route, code_app, admin):
    """Found by the property above: `"scopes": true` in a PATCH was a TypeError (a 500)."""
    client = APIClient()
    client.force_authenticate(user=admin)
    app_url = f"{API}/connectedApplications/{code_app.app.client_id}"
    before = row_counts()
    if route == "create":
        body = {"client_name": "X", "grant_types": ["client_credentials"], "scopes": scopes}
        response = client.post(f"{API}/connectedApplications", body, format="json")
    elif route == "patch":
        response = client.patch(app_url, {"scopes": scopes}, format="json")
    else:
        response = client.put(f"{app_url}/scopes", {"scopes": scopes}, format="json")
    assert response.status_code == 400, response.content
    assert "scopes" in response.json()["fields"]
    assert row_counts() == before
