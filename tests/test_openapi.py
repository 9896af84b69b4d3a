"""The OpenAPI schema (core.schema): valid OpenAPI 3, every SPEC §4 path that exists is
documented, drf-spectacular has nothing to warn about, and the documented shapes are the
shapes the API really answers."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml
from django.conf import settings
from django.core.management import call_command
from django.urls import Resolver404, resolve
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from accounts.catalog import ALL_SCOPES, Permission, Role
from core.api_support import MAX_LIMIT, MAX_OFFSET
from tests.oauth.code_flow import tokens_for
from tests.oauth.tokenkit import LOGIN_URL, TOKEN_URL, client_credentials
from tests.oauth.tokenkit import isolated_throttle as isolated_throttle

SCHEMA_URL = "/accounts/api/openapi.json"
OAUTH = "/accounts/api/v2/oauth2"

# SPEC §4, as (methods, path). The resource paths are checked when the URLconf routes them
# (some belong to work in progress); the authorization server's are always documented.
SPEC_RESOURCE_PATHS = [
    ({"get"}, "/accounts/api/profile"),
    ({"get"}, "/accounts/api/me"),
    ({"get", "post"}, "/accounts/api/connectedApplications"),
    ({"get", "patch", "delete"}, "/accounts/api/connectedApplications/{client_id}"),
    ({"post"}, "/accounts/api/connectedApplications/{client_id}/client-secret"),
    ({"get", "put"}, "/accounts/api/connectedApplications/{client_id}/scopes"),
    ({"get"}, "/accounts/api/connectedApplications/{client_id}/usage"),
    ({"get", "post"}, "/accounts/api/organizations/{org_id}/connectedApplications"),
    (
        {"get", "patch", "delete"},
        "/accounts/api/organizations/{org_id}/connectedApplications/{client_id}",
    ),
    (
        {"get", "put"},
        "/accounts/api/organizations/{org_id}/connectedApplications/{client_id}/scopes",
    ),
    ({"get"}, "/accounts/api/users/me/connectedApplications"),
    ({"delete"}, "/accounts/api/users/me/connectedApplications/{client_id}"),
    ({"get", "put"}, "/accounts/api/organizations/{org_id}/connectedApplicationsSettings"),
    ({"get", "post"}, "/accounts/api/organizations/{org_id}/connectedApplicationsAllowlist"),
    ({"delete"}, "/accounts/api/organizations/{org_id}/connectedApplicationsAllowlist/{client_id}"),
    ({"get"}, "/accounts/api/organizations/{org_id}/authorizedApplications"),
    ({"delete"}, "/accounts/api/organizations/{org_id}/authorizedApplications/{client_id}"),
    ({"get"}, "/accounts/api/organizations/{org_id}"),
    ({"get", "post"}, "/accounts/api/organizations/{org_id}/businessGroups"),
    ({"get", "post"}, "/accounts/api/organizations/{org_id}/environments"),
    ({"get", "post"}, "/accounts/api/organizations/{org_id}/users"),
    ({"get", "put"}, "/accounts/api/organizations/{org_id}/users/{user_id}/permissions"),
    ({"get", "post"}, "/accounts/api/organizations/{org_id}/identityProviders"),
    ({"get"}, "/accounts/api/organizations/{org_id}/auditLogs"),
    ({"post"}, "/accounts/logout"),
]
SPEC_OAUTH_PATHS = [
    ({"get"}, "/.well-known/openid-configuration"),
    ({"get"}, f"{OAUTH}/.well-known/openid-configuration"),
    ({"get"}, f"{OAUTH}/authorize"),
    ({"post"}, f"{OAUTH}/token"),
    ({"get"}, f"{OAUTH}/jwks"),
    ({"get", "post"}, f"{OAUTH}/userinfo"),
    ({"post"}, f"{OAUTH}/introspect"),
    ({"post"}, f"{OAUTH}/revoke"),
    ({"post"}, "/accounts/login"),
]
SAMPLE_IDS = {
    "org_id": "6f1f5b4e-0000-4000-8000-000000000001",
    "client_id": "0123456789abcdef0123456789abcdef",
    "user_id": "6f1f5b4e-0000-4000-8000-000000000002",
}


@pytest.fixture(scope="module")
def spec(django_db_blocker) -> dict[str, Any]:
    from django.test import Client

    with django_db_blocker.unblock():
        response = Client().get(SCHEMA_URL)
    assert response.status_code == 200
    return json.loads(response.content)


def resolved(spec: dict, schema: dict) -> dict:
    """`schema` with every `$ref` into components replaced by its target."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            name = schema["$ref"].removeprefix("#/components/schemas/")
            return resolved(spec, spec["components"]["schemas"][name])
        return {key: resolved(spec, value) for key, value in schema.items()}
    if isinstance(schema, list):
        return [resolved(spec, item) for item in schema]
    return schema


def assert_documented(spec: dict, instance: Any, component: str) -> None:
    """`instance` validates against the component, and names no undocumented field."""
    schema = resolved(spec, spec["components"]["schemas"][component])
    OAS30Validator(schema).validate(json.loads(json.dumps(instance, default=str)))
    undocumented = set(instance) - set(schema["properties"])
    assert not undocumented, f"{component} does not document {sorted(undocumented)}"


def response_component(spec: dict, path: str, method: str, status: str) -> str:
    content = spec["paths"][path][method]["responses"][status]["content"]
    return content["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]


# -- the schema itself -----------------------------------------------------------------------------
def test_the_schema_is_valid_openapi_3_and_public(spec):
    validate(spec)
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] == "Doorman API"


def test_the_yaml_schema_says_the_same(client, spec):
    response = client.get("/accounts/api/openapi.yaml")
    assert response.status_code == 200
    assert yaml.safe_load(response.content)["paths"].keys() == spec["paths"].keys()


def test_drf_spectacular_validates_without_a_warning(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert yaml.safe_load(out.read_text())["paths"]


def _routed(path: str) -> bool:
    concrete = re.sub(r"\{(\w+)\}", lambda m: SAMPLE_IDS[m.group(1)], path)
    try:
        resolve(concrete)
    except Resolver404:
        return False
    return True


@pytest.mark.parametrize(("methods", "path"), SPEC_RESOURCE_PATHS + SPEC_OAUTH_PATHS)
def test_every_routed_spec_path_is_documented(spec, methods, path):
    if not _routed(path):
        pytest.skip(f"{path} is not routed yet")
    assert path in spec["paths"], f"{path} is routed but not documented"
    assert methods <= set(spec["paths"][path]), sorted(spec["paths"][path])


def test_the_authorization_server_is_always_documented(spec):
    for methods, path in SPEC_OAUTH_PATHS:
        assert methods <= set(spec["paths"][path]), path
    token = spec["paths"][f"{OAUTH}/token"]["post"]
    assert set(token["requestBody"]["content"]) == {
        "application/x-www-form-urlencoded",
        "application/json",
    }
    assert {"clientBasic": []} in token["security"]
    authorize = spec["paths"][f"{OAUTH}/authorize"]["get"]
    params = {p["name"]: p for p in authorize["parameters"]}
    assert params["code_challenge_method"]["schema"]["enum"] == ["S256"]
    assert params["code_challenge"]["required"]


def test_resource_operations_declare_the_security_schemes_and_error_shape(spec):
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert schemes["cookieAuth"]["in"] == "cookie"
    for path, operations in spec["paths"].items():
        if not path.startswith("/accounts/api/") or path.startswith(OAUTH):
            continue
        for method, operation in operations.items():
            assert {"bearerAuth": []} in operation["security"], (method, path)
            for status in ("401", "403", "404"):
                assert response_component(spec, path, method, status) == "ApiError"
            assert operation["tags"] and operation["summary"], (method, path)


def test_list_operations_document_the_envelope_and_paging(spec):
    operation = spec["paths"]["/accounts/api/connectedApplications"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert names == {"offset", "limit", "search", "includeUsage"}
    envelope = spec["components"]["schemas"][
        response_component(spec, "/accounts/api/connectedApplications", "get", "200")
    ]
    assert set(envelope["properties"]) == {"data", "total"}
    assert envelope["properties"]["data"]["type"] == "array"
    error = spec["components"]["schemas"]["ApiError"]
    assert set(error["properties"]) == {"error", "message", "fields"}


# Found by Schemathesis (tests/hostile/test_schemathesis.py): inputs the schema called valid
# that the API refuses, and refusals it did not document.
def test_paging_parameters_carry_their_bounds(spec):
    params = {
        p["name"]: p["schema"]
        for p in spec["paths"]["/accounts/api/connectedApplications"]["get"]["parameters"]
    }
    assert params["offset"] == {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}
    assert params["limit"] == {"type": "integer", "minimum": 0, "maximum": MAX_LIMIT}


CLOSED_BODIES = ["NameInput", "EnvironmentInput", "UserInput", "PermissionsInput"]
CLOSED_BODIES += ["IdentityLinkInput", "AppInput", "AppChanges", "AppScopes", "SettingsIO"]


@pytest.mark.parametrize("component", CLOSED_BODIES)
def test_bodies_that_refuse_unknown_fields_say_so(spec, component):
    schema = spec["components"]["schemas"][component]
    assert schema["additionalProperties"] is False
    for name in schema.get("required", []):
        field = schema["properties"][name]
        if field.get("type") == "string":
            assert field["minLength"] == 1, (component, name)  # blank is refused


def test_an_unknown_field_is_refused_where_the_schema_says_so(as_admin, org, code_app):
    app = f"/accounts/api/connectedApplications/{code_app.app.client_id}"
    for method, url, body in [
        ("post", f"/accounts/api/organizations/{org.id}/businessGroups", {"name": "Team"}),
        ("patch", app, {"client_name": "Renamed"}),
        ("put", f"{app}/scopes", {"scopes": ["openid"]}),
        ("put", f"/accounts/api/organizations/{org.id}/connectedApplicationsSettings", {}),
    ]:
        response = getattr(as_admin, method)(url, {**body, "colour": "blue"}, format="json")
        assert response.status_code == 400, (url, response.content)
        assert response.json()["fields"]["colour"] == ["Unknown field."]


def test_names_the_api_checks_are_enumerated(spec):
    schemas = spec["components"]["schemas"]
    permissions = resolved(spec, schemas["PermissionsInput"])["properties"]
    assert permissions["permissions"]["items"]["allOf"][0]["enum"] == list(Permission.values)
    assert permissions["environments"]["items"]["format"] == "uuid"
    role = permissions["role"]
    assert [option["enum"] for option in role["oneOf"]] == [list(Role.values), [""], [None]]
    scope_item = resolved(spec, schemas["AppScopes"])["properties"]["scopes"]["items"]["oneOf"]
    assert scope_item[1]["properties"]["scope"]["enum"] == list(ALL_SCOPES)
    login = schemas["PlatformLoginRequest"]["properties"]
    assert login["username"]["minLength"] == login["password"]["minLength"] == 1
    assert schemas["SettingsIO"]["minProperties"] == 1  # an empty PUT changes nothing: a 400


def test_a_patch_takes_the_body_of_its_put(spec, as_admin, org):
    operations = spec["paths"]["/accounts/api/organizations/{org_id}"]
    assert operations["patch"]["requestBody"] == operations["put"]["requestBody"]
    assert "Patched" not in " ".join(spec["components"]["schemas"])
    response = as_admin.patch(f"/accounts/api/organizations/{org.id}", {}, format="json")
    assert response.json()["fields"] == {"name": ["This field is required."]}


def test_every_body_documents_its_parser_refusals(spec, as_admin, org):
    """413 everywhere; 415 from the resource APIs (the OAuth endpoints answer invalid_request)."""
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if "requestBody" in operation:
                assert "413" in operation["responses"], (method, path)
                oauth = path.startswith(OAUTH) or path == "/accounts/login"
                assert oauth or "415" in operation["responses"], (method, path)
    url = f"/accounts/api/organizations/{org.id}/businessGroups"
    refused = as_admin.post(url, "name=Team", content_type="text/plain")
    assert refused.status_code == 415
    assert_documented(spec, refused.json(), "ApiError")


# The refusals no Schemathesis case provokes (a huge body, a run of failed sign-ins, a database
# outage) are documented, with the body they really have.
def assert_documented_error(spec, response, path: str, method: str = "post") -> None:
    status = str(response.status_code)
    assert status in spec["paths"][path][method]["responses"], (method, path, status)
    assert_documented(spec, response.json(), response_component(spec, path, method, status))


def test_a_body_over_the_limit_is_a_documented_413(spec, as_admin, client, org):
    big = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1024)
    groups = "/accounts/api/organizations/{org_id}/businessGroups"
    response = as_admin.post(groups.format(org_id=org.id), {"name": big}, format="json")
    assert_documented_error(spec, response, groups)
    body = json.dumps({"username": "someone", "password": big})
    response = client.post(LOGIN_URL, body, content_type="application/json")
    assert_documented_error(spec, response, LOGIN_URL)


def test_a_locked_out_sign_in_is_a_documented_429(spec, client, admin, isolated_throttle):
    for _ in range(settings.DOORMAN_LOGIN_MAX_FAILURES + 1):
        response = client.post(LOGIN_URL, {"username": admin.username, "password": "wrong"})
    assert response.status_code == 429
    assert_documented_error(spec, response, LOGIN_URL)


def test_a_database_outage_is_a_documented_503(spec, client, cc_app, monkeypatch):
    from django.db import OperationalError
    from django.db.backends.utils import CursorWrapper

    def busy(self, *args, **kwargs):
        raise OperationalError("database is locked")

    with monkeypatch.context() as patched:  # undone before the test database is
        patched.setattr(CursorWrapper, "execute", busy)
        response = client.post(TOKEN_URL, client_credentials(cc_app))
    assert response.status_code == 503
    assert_documented_error(spec, response, TOKEN_URL)


# -- the documented shapes are the real ones ---------------------------------------------------
@pytest.fixture
def as_admin(client_for, admin):
    return client_for(admin)


def test_account_shapes_match_the_api(spec, as_admin, org, admin):
    profile = as_admin.get("/accounts/api/profile").json()
    assert_documented(spec, profile, "UserOutput")
    organization = as_admin.get(f"/accounts/api/organizations/{org.id}").json()
    assert_documented(spec, organization, "OrganizationOutput")
    environment = as_admin.post(
        f"/accounts/api/organizations/{org.id}/environments",
        {"name": "Sandbox", "type": "sandbox"},
        format="json",
    ).json()
    assert_documented(spec, environment, "EnvironmentOutput")
    users = as_admin.get(f"/accounts/api/organizations/{org.id}/users").json()
    assert_documented(spec, users, "UserList")
    permissions = as_admin.get(
        f"/accounts/api/organizations/{org.id}/users/{admin.id}/permissions"
    ).json()
    assert_documented(spec, permissions, "UserPermissionsOutput")
    provider = as_admin.post(
        f"/accounts/api/organizations/{org.id}/identityProviders", {"name": "Okta"}, format="json"
    ).json()
    assert_documented(spec, provider, "IdentityProviderOutput")


def test_connected_app_shapes_match_the_api(spec, as_admin, cc_app, org):
    created = as_admin.post(
        "/accounts/api/connectedApplications",
        {
            "client_name": "Docs",
            "grant_types": ["authorization_code"],
            "redirect_uris": ["https://docs.example/cb"],
            "scopes": ["openid"],
        },
        format="json",
    ).json()
    assert_documented(spec, created, "AppCreatedOutput")
    client_id = created["client_id"]
    listed = as_admin.get("/accounts/api/connectedApplications?includeUsage=true").json()
    assert_documented(spec, listed, "AppList")
    assert_documented(spec, listed["data"][0], "AppOutput")
    base = f"/accounts/api/connectedApplications/{client_id}"
    assert_documented(spec, as_admin.get(f"{base}/usage").json(), "AppUsageReportOutput")
    usage_path = "/accounts/api/connectedApplications/{client_id}/usage"
    assert_documented_error(spec, as_admin.get(f"{base}/usage?days=31"), usage_path, "get")
    assert_documented(spec, as_admin.post(f"{base}/client-secret").json(), "AppSecretOutput")
    scopes = as_admin.get(f"/accounts/api/connectedApplications/{cc_app.app.client_id}/scopes")
    assert_documented(spec, scopes.json(), "AppScopesOutput")


def test_the_error_shape_matches_the_api(spec, as_admin, api_client):
    refused = as_admin.post(
        "/accounts/api/connectedApplications",
        {"client_name": "", "grant_types": ["authorization_code"]},
        format="json",
    )
    assert refused.status_code == 400
    assert_documented(spec, refused.json(), "ApiError")
    anonymous = api_client.get("/accounts/api/profile")
    assert anonymous.status_code == 401
    assert_documented(spec, anonymous.json(), "ApiError")


def test_authorization_server_shapes_match_the_endpoints(spec, client, admin, code_app):
    discovery = client.get(f"{OAUTH}/.well-known/openid-configuration").json()
    schema = resolved(spec, spec["components"]["schemas"]["ProviderMetadata"])
    OAS30Validator(schema).validate(discovery)
    assert set(schema["properties"]) <= set(discovery)
    assert_documented(spec, client.get(f"{OAUTH}/jwks").json(), "JsonWebKeySet")

    client.force_login(admin)
    tokens = tokens_for(client, code_app, scope="openid profile email offline_access")
    assert_documented(spec, tokens, "TokenResponse")
    client.logout()
    userinfo = client.get(
        f"{OAUTH}/userinfo", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}"
    ).json()
    assert_documented(spec, userinfo, "UserInfo")
    introspection = client.post(
        f"{OAUTH}/introspect",
        {
            "token": tokens["access_token"],
            "client_id": code_app.app.client_id,
            "client_secret": code_app.client_secret,
        },
    ).json()
    assert introspection["active"] is True
    assert_documented(spec, introspection, "IntrospectionResponse")
    refused = client.post(f"{OAUTH}/token", {"grant_type": "password"})
    assert_documented(spec, refused.json(), "OAuthError")


def test_the_published_schema_speaks_to_api_users_not_to_our_spec():
    """What the API docs show names RFCs and behaviour, never our internal SPEC sections."""
    from django.test import Client

    schema = Client().get("/accounts/api/openapi.json").content.decode()
    assert "SPEC" not in schema
