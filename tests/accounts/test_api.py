"""The accounts API of SPEC §4: shapes, authorization, tenant isolation and bad input."""

from __future__ import annotations

import json
import uuid

import pytest
from django.db import connection
from django.middleware.csrf import _get_new_csrf_string
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.catalog import Permission, Role
from accounts.models import Environment, IdentityProvider, Organization, RoleGrant, User
from audit.models import AuditAction, AuditEvent
from core.api_support import MAX_LIMIT
from tests.factories import (
    DEFAULT_PASSWORD,
    AdminRoleFactory,
    EnvironmentFactory,
    IdentityProviderFactory,
    OrganizationFactory,
    PermissionGrantFactory,
    UserFactory,
)

API = "/accounts/api"
NEW_PASSWORD = "a-long-and-unusual-passphrase-42"
ADMIN_ROLE = Role.ORGANIZATION_ADMINISTRATOR.value


@pytest.fixture
def bg(org):
    return OrganizationFactory(name="Engineering", parent=org)


@pytest.fixture
def production(org):
    return EnvironmentFactory(organization=org, name="Production", type="production")


@pytest.fixture
def sandbox(org):
    return EnvironmentFactory(organization=org, name="Sandbox", type="sandbox")


def grant(user, permission, org=None, environment=None):
    return PermissionGrantFactory(
        user=user,
        permission=permission,
        organization=org or user.organization,
        environment=environment,
    )


def send(client, method: str, path: str, body=None, **extra):
    """Send `body` as JSON (or raw bytes/str as they are) with the given method."""
    if body is not None and not isinstance(body, bytes | str):
        body = json.dumps(body)
    extra.setdefault("content_type", "application/json")
    return getattr(client, method.lower())(path, data=body, **extra)


def assert_json_error(response, status: int, error: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = json.loads(response.content)
    assert set(body) <= {"error", "message", "fields"}, body
    assert isinstance(body["error"], str)
    assert isinstance(body["message"], str)
    assert body["message"]
    if error is not None:
        assert body["error"] == error
    return body


# -- the endpoints, with a valid body for each write ----------------------------------------------
def endpoints(org_id, user_id, bg_id=None):
    """(method, path, valid body) for every org-addressed endpoint of this API."""
    base = f"{API}/organizations/{org_id}"
    return [
        ("GET", base, None),
        ("PUT", base, {"name": "Renamed"}),
        ("PATCH", base, {"name": "Renamed"}),
        ("GET", f"{base}/businessGroups", None),
        ("POST", f"{base}/businessGroups", {"name": "New BG"}),
        ("GET", f"{base}/environments", None),
        ("POST", f"{base}/environments", {"name": "QA", "type": "sandbox"}),
        ("GET", f"{base}/users", None),
        (
            "POST",
            f"{base}/users",
            {"username": "intruder", "email": "i@example.com", "password": NEW_PASSWORD},
        ),
        ("GET", f"{base}/users/{user_id}", None),
        ("GET", f"{base}/users/{user_id}/permissions", None),
        ("PUT", f"{base}/users/{user_id}/permissions", {"permissions": ["read:users"]}),
        ("PUT", f"{base}/users/{user_id}/permissions", {"role": ADMIN_ROLE}),
        ("GET", f"{base}/identityProviders", None),
        ("POST", f"{base}/identityProviders", {"name": "Okta"}),
    ]


ENDPOINT_IDS = [
    "get-org",
    "put-org",
    "patch-org",
    "get-bgs",
    "post-bg",
    "get-envs",
    "post-env",
    "get-users",
    "post-user",
    "get-user",
    "get-permissions",
    "put-permissions",
    "put-role",
    "get-idps",
    "post-idp",
]
USER_ADDRESSED = {"get-user", "get-permissions", "put-permissions", "put-role"}


def snapshot() -> dict:
    """Every row an API write could have added or changed."""
    return {
        "orgs": sorted((str(o.id), o.name) for o in Organization.objects.all()),
        "environments": Environment.objects.count(),
        "users": User.objects.count(),
        "grants": sorted(
            (str(u), p)
            for u, p in User.objects.filter(permission_grants__isnull=False).values_list(
                "id", "permission_grants__permission"
            )
        ),
        "roles": RoleGrant.objects.count(),
        "idps": IdentityProvider.objects.count(),
        "events": AuditEvent.objects.count(),
    }


# -- profile --------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["profile", "me"])
def test_profile_returns_the_callers_profile(client_for, member, org, path):
    response = client_for(member).get(f"{API}/{path}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    data = response.json()
    assert {
        "id",
        "username",
        "firstName",
        "lastName",
        "email",
        "organizationId",
        "createdAt",
    } <= set(data)
    assert data["id"] == str(member.id)
    assert data["username"] == "acme-member"
    assert data["firstName"] == member.first_name
    assert data["lastName"] == member.last_name
    assert data["email"] == member.email
    assert data["organizationId"] == str(org.id)
    assert data["createdAt"].startswith(str(member.date_joined.year))
    assert "password" not in data


@pytest.mark.parametrize("path", ["profile", "me"])
def test_profile_is_read_only(client_for, member, path):
    assert_json_error(send(client_for(member), "POST", f"{API}/{path}", {}), 405)


# -- no credentials -------------------------------------------------------------------------------
@pytest.mark.parametrize(("index"), range(len(ENDPOINT_IDS)), ids=ENDPOINT_IDS)
def test_no_credentials_is_401_with_a_bare_bearer_challenge(org, member, index):
    method, path, body = endpoints(org.id, member.id)[index]
    before = snapshot()
    response = send(APIClient(), method, path, body)
    assert_json_error(response, 401, "unauthorized")
    challenge = response["WWW-Authenticate"]
    assert challenge.startswith("Bearer")
    assert "error=" not in challenge  # RFC 6750 §3.1: no error code without credentials
    assert snapshot() == before


@pytest.mark.parametrize("path", ["profile", "me"])
def test_profile_without_credentials_is_401(db, path):
    response = APIClient().get(f"{API}/{path}")
    assert_json_error(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_inactive_user_session_is_401(member):
    client = APIClient()
    client.login(username=member.username, password=DEFAULT_PASSWORD)
    User.objects.filter(id=member.id).update(is_active=False)
    assert_json_error(client.get(f"{API}/profile"), 401)


# -- a member without the permission ---------------------------------------------------------------
@pytest.mark.parametrize(("index"), range(len(ENDPOINT_IDS)), ids=ENDPOINT_IDS)
def test_member_without_permission_is_403(client_for, org, member, index):
    victim = UserFactory(organization=org, username="victim")
    method, path, body = endpoints(org.id, victim.id)[index]
    before = snapshot()
    assert_json_error(send(client_for(member), method, path, body), 403, "forbidden")
    assert snapshot() == before


def test_bg_admin_reads_the_bg_but_not_the_parent(client_for, org, bg):
    bg_admin = UserFactory(organization=org)
    AdminRoleFactory(user=bg_admin, organization=bg)
    client = client_for(bg_admin)
    assert client.get(f"{API}/organizations/{bg.id}").status_code == 200
    assert_json_error(client.get(f"{API}/organizations/{org.id}"), 403)
    assert_json_error(client.get(f"{API}/organizations/{org.id}/users"), 403)
    assert client.get(f"{API}/organizations/{bg.id}/users").status_code == 200


# -- tenant isolation ------------------------------------------------------------------------------
@pytest.mark.parametrize("target", ["root", "bg"])
@pytest.mark.parametrize(("index"), range(len(ENDPOINT_IDS)), ids=ENDPOINT_IDS)
def test_another_tenants_admin_gets_404_everywhere(
    client_for, org, bg, member, other_admin, index, target
):
    EnvironmentFactory(organization=org, name="Secret env")
    IdentityProviderFactory(organization=org, name="Secret IdP")
    org_id = org.id if target == "root" else bg.id
    method, path, body = endpoints(org_id, member.id)[index]
    before = snapshot()
    response = send(client_for(other_admin), method, path, body)
    body = assert_json_error(response, 404, "not_found")
    text = response.content.decode()
    for secret in ("Acme", "Engineering", "Secret", "acme-member", str(member.id)):
        assert secret not in text
    assert snapshot() == before


USER_ENDPOINTS = [i for i, name in enumerate(ENDPOINT_IDS) if name in USER_ADDRESSED]


@pytest.mark.parametrize(("index"), USER_ENDPOINTS, ids=[ENDPOINT_IDS[i] for i in USER_ENDPOINTS])
def test_a_user_of_another_tenant_is_404_through_ones_own_org(
    client_for, member, other_admin, other_org, index
):
    method, path, body = endpoints(other_org.id, member.id)[index]
    assert f"/users/{member.id}" in path
    before = snapshot()
    assert_json_error(send(client_for(other_admin), method, path, body), 404)
    assert snapshot() == before


def test_another_tenants_environment_cannot_be_granted(
    client_for, other_admin, other_org, production
):
    colleague = UserFactory(organization=other_org)
    response = send(
        client_for(other_admin),
        "PUT",
        f"{API}/organizations/{other_org.id}/users/{colleague.id}/permissions",
        {"permissions": ["view:environment"], "environments": [str(production.id)]},
    )
    body = assert_json_error(response, 400)
    assert "environments" in body["fields"]
    assert "Production" not in response.content.decode()


@pytest.mark.parametrize(
    "org_id", ["not-a-uuid", "1", "00000000-0000-0000-0000-00000000000g", "%00"]
)
def test_a_malformed_org_id_is_404_json(client_for, admin, org_id):
    for suffix in ("", "/users", "/environments", "/businessGroups", "/identityProviders"):
        assert_json_error(client_for(admin).get(f"{API}/organizations/{org_id}{suffix}"), 404)


def test_an_unknown_org_or_user_id_is_404_json(client_for, admin, org):
    client = client_for(admin)
    assert_json_error(client.get(f"{API}/organizations/{uuid.uuid4()}"), 404)
    assert_json_error(client.get(f"{API}/organizations/{org.id}/users/{uuid.uuid4()}"), 404)
    assert_json_error(client.get(f"{API}/organizations/{org.id}/users/nope/permissions"), 404)


@pytest.mark.parametrize(
    "path", ["nope", "organizations", "organizations/x/y/z/w/v", "profile/", "me/extra"]
)
def test_unknown_api_paths_are_404_json(client_for, admin, path):
    assert_json_error(client_for(admin).get(f"{API}/{path}"), 404)


def test_unknown_api_paths_are_404_json_without_credentials(db):
    assert_json_error(APIClient().get(f"{API}/nope"), 404)


# -- organizations ---------------------------------------------------------------------------------
def test_get_organization(client_for, admin, org, bg):
    data = client_for(admin).get(f"{API}/organizations/{bg.id}").json()
    assert data["id"] == str(bg.id)
    assert data["name"] == "Engineering"
    assert data["parentId"] == str(org.id)
    assert data["parentOrganizationIds"] == [str(org.id)]
    assert data["isRoot"] is False


def test_member_with_read_organization_reads_it(client_for, member, org):
    grant(member, Permission.READ_ORGANIZATION, org)
    assert client_for(member).get(f"{API}/organizations/{org.id}").json()["name"] == "Acme"


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_rename_organization(client_for, admin, org, method):
    response = send(client_for(admin), method, f"{API}/organizations/{org.id}", {"name": "New"})
    assert response.status_code == 200
    assert response.json()["name"] == "New"
    org.refresh_from_db()
    assert org.name == "New"
    assert AuditEvent.objects.filter(action=AuditAction.ORGANIZATION_UPDATED).count() == 1


def test_rename_to_a_taken_name_is_400(client_for, admin, org, other_org):
    response = send(client_for(admin), "PUT", f"{API}/organizations/{org.id}", {"name": "globex"})
    body = assert_json_error(response, 400, "invalid_request")
    assert body["fields"] == {"name": ["An organization with this name already exists."]}


# -- business groups ------------------------------------------------------------------------------
def test_create_and_list_business_groups(client_for, admin, org):
    client = client_for(admin)
    response = send(client, "POST", f"{API}/organizations/{org.id}/businessGroups", {"name": "B"})
    assert response.status_code == 201
    created = response.json()
    assert created["parentId"] == str(org.id)
    send(client, "POST", f"{API}/organizations/{org.id}/businessGroups", {"name": "A"})
    listing = client.get(f"{API}/organizations/{org.id}/businessGroups").json()
    assert listing["total"] == 2
    assert [g["name"] for g in listing["data"]] == ["A", "B"]
    nested = send(
        client, "POST", f"{API}/organizations/{created['id']}/businessGroups", {"name": "C"}
    )
    assert nested.status_code == 201
    assert nested.json()["parentOrganizationIds"] == [str(org.id), created["id"]]


def test_duplicate_business_group_is_400(client_for, admin, org, bg):
    response = send(
        client_for(admin),
        "POST",
        f"{API}/organizations/{org.id}/businessGroups",
        {"name": "ENGINEERING"},
    )
    assert "name" in assert_json_error(response, 400)["fields"]
    assert Organization.objects.filter(parent=org).count() == 1


# -- environments ----------------------------------------------------------------------------------
def test_create_and_list_environments(client_for, admin, org):
    client = client_for(admin)
    response = send(
        client,
        "POST",
        f"{API}/organizations/{org.id}/environments",
        {"name": "Production", "type": "production"},
    )
    assert response.status_code == 201
    data = response.json()
    assert data["type"] == "production"
    assert data["isProduction"] is True
    assert data["organizationId"] == str(org.id)
    listing = client.get(f"{API}/organizations/{org.id}/environments").json()
    assert listing == {"data": [data], "total": 1}


def test_bad_environment_type_is_400(client_for, admin, org):
    response = send(
        client_for(admin),
        "POST",
        f"{API}/organizations/{org.id}/environments",
        {"name": "QA", "type": "staging"},
    )
    assert "type" in assert_json_error(response, 400)["fields"]
    assert not Environment.objects.exists()


def test_member_with_one_environment_sees_only_that_one(
    client_for, member, org, production, sandbox
):
    grant(member, Permission.VIEW_ENVIRONMENT, org, environment=sandbox)
    response = client_for(member).get(f"{API}/organizations/{org.id}/environments")
    assert response.status_code == 200
    assert response.json()["total"] == 1
    assert [e["id"] for e in response.json()["data"]] == [str(sandbox.id)]
    assert str(production.id) not in response.content.decode()
    assert '"Production"' not in response.content.decode()


def test_member_with_org_wide_view_sees_every_environment(
    client_for, member, org, production, sandbox
):
    grant(member, Permission.EDIT_ENVIRONMENT, org)
    listing = client_for(member).get(f"{API}/organizations/{org.id}/environments").json()
    assert [e["name"] for e in listing["data"]] == ["Production", "Sandbox"]


def test_member_with_one_environment_cannot_create_environments(client_for, member, org, sandbox):
    grant(member, Permission.EDIT_ENVIRONMENT, org, environment=sandbox)
    response = send(
        client_for(member),
        "POST",
        f"{API}/organizations/{org.id}/environments",
        {"name": "QA", "type": "sandbox"},
    )
    assert_json_error(response, 403)


# -- users -----------------------------------------------------------------------------------------
def test_create_user(client_for, admin, org):
    response = send(
        client_for(admin),
        "POST",
        f"{API}/organizations/{org.id}/users",
        {
            "username": "newbie",
            "email": "newbie@example.com",
            "password": NEW_PASSWORD,
            "firstName": "New",
            "lastName": "Bie",
        },
    )
    assert response.status_code == 201
    data = response.json()
    assert data["username"] == "newbie"
    assert data["firstName"] == "New"
    assert data["organizationId"] == str(org.id)
    assert "password" not in data
    assert NEW_PASSWORD not in response.content.decode()
    user = User.objects.get(username="newbie")
    assert user.check_password(NEW_PASSWORD)
    assert str(user.id) == data["id"]


def test_create_user_through_a_bg_adds_a_member_of_the_root(client_for, admin, org, bg):
    response = send(
        client_for(admin),
        "POST",
        f"{API}/organizations/{bg.id}/users",
        {"username": "bguser", "email": "bg@example.com", "password": NEW_PASSWORD},
    )
    assert response.json()["organizationId"] == str(org.id)


@pytest.mark.parametrize("username", ["acme-member", "ACME-MEMBER", "globex-admin"])
def test_duplicate_username_is_400_and_one_row(
    client_for, admin, member, other_admin, org, username
):
    response = send(
        client_for(admin),
        "POST",
        f"{API}/organizations/{org.id}/users",
        {"username": username, "email": "dup@example.com", "password": NEW_PASSWORD},
    )
    body = assert_json_error(response, 400)
    assert body["fields"] == {"username": ["This username is already taken."]}
    assert User.objects.filter(username__iexact=username).count() == 1


def test_weak_password_is_400(client_for, admin, org):
    response = send(
        client_for(admin),
        "POST",
        f"{API}/organizations/{org.id}/users",
        {"username": "weak", "email": "w@example.com", "password": "password"},
    )
    assert "password" in assert_json_error(response, 400)["fields"]
    assert not User.objects.filter(username="weak").exists()


def test_list_and_get_users(client_for, admin, member, org):
    client = client_for(admin)
    listing = client.get(f"{API}/organizations/{org.id}/users").json()
    assert listing["total"] == 2
    assert [u["username"] for u in listing["data"]] == ["acme-admin", "acme-member"]
    searched = client.get(f"{API}/organizations/{org.id}/users", {"search": "MEMB"}).json()
    assert [u["username"] for u in searched["data"]] == ["acme-member"]
    one = client.get(f"{API}/organizations/{org.id}/users/{member.id}").json()
    assert one["id"] == str(member.id)
    assert one["email"] == member.email


def test_user_search_with_odd_characters(client_for, admin, org):
    client = client_for(admin)
    for search in ("%", "_", "\\", "'", "\x00", "a\x00b", "😀"):
        response = client.get(f"{API}/organizations/{org.id}/users", {"search": search})
        assert response.status_code == 200, (search, response.content)
        assert response.json()["total"] == 0


def test_member_with_read_users_lists_but_cannot_create(client_for, member, org):
    grant(member, Permission.READ_USERS, org)
    client = client_for(member)
    assert client.get(f"{API}/organizations/{org.id}/users").json()["total"] == 1
    response = send(
        client,
        "POST",
        f"{API}/organizations/{org.id}/users",
        {"username": "x", "email": "x@example.com", "password": NEW_PASSWORD},
    )
    assert_json_error(response, 403)


# -- permissions -----------------------------------------------------------------------------------
def test_put_and_get_permissions(client_for, admin, member, org, production, sandbox):
    client = client_for(admin)
    path = f"{API}/organizations/{org.id}/users/{member.id}/permissions"
    assert client.get(path).json() == {"permissions": [], "environments": [], "role": None}
    response = send(
        client,
        "PUT",
        path,
        {"permissions": ["view:environment", "read:users"], "environments": [str(sandbox.id)]},
    )
    assert response.status_code == 200
    expected = {
        "permissions": ["view:environment", "read:users"],
        "environments": [str(sandbox.id)],
        "role": None,
    }
    assert response.json() == expected
    assert client.get(path).json() == expected
    # the member now sees the sandbox only
    envs = client_for(member).get(f"{API}/organizations/{org.id}/environments").json()
    assert [e["name"] for e in envs["data"]] == ["Sandbox"]


def test_put_role_and_clear_it(client_for, admin, member, org):
    client = client_for(admin)
    path = f"{API}/organizations/{org.id}/users/{member.id}/permissions"
    response = send(client, "PUT", path, {"role": ADMIN_ROLE})
    assert response.status_code == 200
    assert response.json()["role"] == ADMIN_ROLE
    # the new administrator can read users straight away
    assert client_for(member).get(f"{API}/organizations/{org.id}/users").status_code == 200
    assert send(client, "PUT", path, {"role": None}).json()["role"] is None
    assert not RoleGrant.objects.filter(user=member).exists()


def test_removing_the_last_admin_is_400(client_for, admin, org):
    path = f"{API}/organizations/{org.id}/users/{admin.id}/permissions"
    response = send(client_for(admin), "PUT", path, {"role": None})
    body = assert_json_error(response, 400)
    assert body["fields"] == {
        "role": ["The organization must keep at least one Organization Administrator."]
    }
    assert RoleGrant.objects.filter(user=admin).exists()


def test_manager_cannot_escalate_through_the_api(client_for, member, org):
    manager = UserFactory(organization=org, username="manager")
    grant(manager, Permission.MANAGE_USERS, org)
    client = client_for(manager)
    path = f"{API}/organizations/{org.id}/users/{member.id}/permissions"
    assert_json_error(send(client, "PUT", path, {"permissions": ["manage:connected_apps"]}), 403)
    assert_json_error(send(client, "PUT", path, {"role": ADMIN_ROLE}), 403)
    own = f"{API}/organizations/{org.id}/users/{manager.id}/permissions"
    assert_json_error(send(client, "PUT", own, {"role": ADMIN_ROLE}), 403)
    assert send(client, "PUT", path, {"permissions": ["read:users"]}).status_code == 200
    assert not RoleGrant.objects.filter(user__in=[member, manager]).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "non_field_errors"),
        ({"permissions": "read:users"}, "permissions"),
        ({"permissions": [1]}, "permissions"),
        ({"permissions": [None]}, "permissions"),
        ({"permissions": [["read:users"]]}, "permissions"),
        ({"permissions": {"read:users": True}}, "permissions"),
        ({"permissions": ["read:everything"]}, "permissions"),
        ({"permissions": [], "environments": "all"}, "environments"),
        ({"permissions": [], "environments": ["not-a-uuid"]}, "environments"),
        ({"permissions": [], "environments": [str(uuid.uuid4())]}, "environments"),
        ({"role": "Owner"}, "role"),
        ({"role": 1}, "role"),
        ({"role": ["Organization Administrator"]}, "role"),
        ({"permissions": [], "extra": 1}, "extra"),
    ],
)
def test_bad_permission_bodies_are_400_with_fields(client_for, admin, member, org, body, field):
    path = f"{API}/organizations/{org.id}/users/{member.id}/permissions"
    response = send(client_for(admin), "PUT", path, body)
    result = assert_json_error(response, 400, "invalid_request")
    assert field in result["fields"], result
    assert not member.permission_grants.exists()


# -- identity providers ----------------------------------------------------------------------------
def test_create_and_list_identity_providers(client_for, admin, org):
    client = client_for(admin)
    response = send(
        client, "POST", f"{API}/organizations/{org.id}/identityProviders", {"name": "O"}
    )
    assert response.status_code == 201
    data = response.json()
    assert {"id", "name"} <= set(data)
    assert data["name"] == "O"
    uuid.UUID(data["id"])
    listing = client.get(f"{API}/organizations/{org.id}/identityProviders").json()
    assert listing["total"] == 1
    assert listing["data"][0]["id"] == data["id"]


def test_member_with_read_organization_lists_but_cannot_create_idps(client_for, member, org):
    grant(member, Permission.READ_ORGANIZATION, org)
    IdentityProviderFactory(organization=org, name="Okta")
    client = client_for(member)
    assert client.get(f"{API}/organizations/{org.id}/identityProviders").json()["total"] == 1
    response = send(
        client, "POST", f"{API}/organizations/{org.id}/identityProviders", {"name": "X"}
    )
    assert_json_error(response, 403)


# -- pagination ------------------------------------------------------------------------------------
@pytest.fixture
def many_users(org):
    return [UserFactory(organization=org, username=f"user{n:02}") for n in range(30)]


def test_lists_are_paginated_with_offset_and_limit(client_for, admin, org, many_users):
    client = client_for(admin)
    path = f"{API}/organizations/{org.id}/users"
    default = client.get(path).json()
    assert default["total"] == 31
    assert len(default["data"]) == 25
    page = client.get(path, {"offset": 5, "limit": 3}).json()
    assert page["total"] == 31
    assert [u["username"] for u in page["data"]] == ["user04", "user05", "user06"]
    assert client.get(path, {"offset": 100}).json() == {"data": [], "total": 31}
    assert client.get(path, {"limit": 0}).json() == {"data": [], "total": 31}
    assert len(client.get(path, {"limit": MAX_LIMIT}).json()["data"]) == 31


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("offset", "-1"),
        ("offset", "abc"),
        ("offset", "1.5"),
        ("offset", "1e3"),
        ("offset", "9" * 40),
        ("offset", "²"),
        ("offset", " 1"),
        ("limit", "-1"),
        ("limit", str(MAX_LIMIT + 1)),
        ("limit", "ten"),
        ("limit", "1_0"),
    ],
)
def test_bad_offset_or_limit_is_400(client_for, admin, org, name, value):
    for suffix in ("users", "environments", "businessGroups", "identityProviders"):
        response = client_for(admin).get(f"{API}/organizations/{org.id}/{suffix}", {name: value})
        body = assert_json_error(response, 400, "invalid_request")
        assert name in body["fields"]


# -- bad bodies ------------------------------------------------------------------------------------
WRITES = [
    ("PUT", "organizations/{org}", {"name": "N"}),
    ("POST", "organizations/{org}/businessGroups", {"name": "N"}),
    ("POST", "organizations/{org}/environments", {"name": "N", "type": "sandbox"}),
    (
        "POST",
        "organizations/{org}/users",
        {"username": "n", "email": "n@example.com", "password": NEW_PASSWORD},
    ),
    ("PUT", "organizations/{org}/users/{user}/permissions", {"permissions": []}),
    ("POST", "organizations/{org}/identityProviders", {"name": "N"}),
]
WRITE_IDS = ["org", "bg", "env", "user", "permissions", "idp"]


def write_path(template: str, org, user) -> str:
    return f"{API}/" + template.format(org=org.id, user=user.id)


@pytest.mark.parametrize(
    "raw",
    [
        b"{",
        b'{"name": }',
        b"{'name': 'x'}",
        b'{"name": NaN}',
        b'{"name": "x"} trailing',
        b"\xff\xfe{}",
        b"[" * 50_000,
    ],
    ids=["open", "missing-value", "single-quotes", "nan", "trailing", "bad-utf8", "deep"],
)
@pytest.mark.parametrize(("method", "template", "valid"), WRITES, ids=WRITE_IDS)
def test_malformed_json_is_400_json(client_for, admin, member, org, method, template, valid, raw):
    before = snapshot()
    response = send(client_for(admin), method, write_path(template, org, member), raw)
    assert_json_error(response, 400, "invalid_request")
    assert snapshot() == before


@pytest.mark.parametrize(
    "body", [[], ["name"], "name", 1, True, None], ids=["[]", "list", "str", "int", "bool", "null"]
)
@pytest.mark.parametrize(("method", "template", "valid"), WRITES, ids=WRITE_IDS)
def test_a_body_that_is_not_an_object_is_400(
    client_for, admin, member, org, method, template, valid, body
):
    before = snapshot()
    raw = json.dumps(body).encode()
    response = send(client_for(admin), method, write_path(template, org, member), raw)
    assert_json_error(response, 400, "invalid_request")
    assert snapshot() == before


@pytest.mark.parametrize(("method", "template", "valid"), WRITES, ids=WRITE_IDS)
def test_unknown_fields_are_400(client_for, admin, member, org, method, template, valid):
    before = snapshot()
    response = send(
        client_for(admin), method, write_path(template, org, member), valid | {"isAdmin": True}
    )
    body = assert_json_error(response, 400)
    assert "isAdmin" in body["fields"]
    assert snapshot() == before


@pytest.mark.parametrize(("method", "template", "valid"), WRITES, ids=WRITE_IDS)
def test_missing_fields_are_400(client_for, admin, member, org, method, template, valid):
    before = snapshot()
    response = send(client_for(admin), method, write_path(template, org, member), {})
    body = assert_json_error(response, 400)
    assert body["fields"]
    assert snapshot() == before


@pytest.mark.parametrize(
    ("method", "template", "body", "field"),
    [
        ("PUT", "organizations/{org}", {"name": 5}, "name"),
        ("PUT", "organizations/{org}", {"name": None}, "name"),
        ("PUT", "organizations/{org}", {"name": ["Acme"]}, "name"),
        ("PUT", "organizations/{org}", {"name": ""}, "name"),
        ("PUT", "organizations/{org}", {"name": "   "}, "name"),
        ("PUT", "organizations/{org}", {"name": "x" * 101}, "name"),
        ("PUT", "organizations/{org}", {"name": "a\x00b"}, "name"),
        ("POST", "organizations/{org}/businessGroups", {"name": 1.5}, "name"),
        ("POST", "organizations/{org}/businessGroups", {"name": True}, "name"),
        ("POST", "organizations/{org}/environments", {"name": "E", "type": 1}, "type"),
        ("POST", "organizations/{org}/environments", {"name": {}, "type": "sandbox"}, "name"),
        (
            "POST",
            "organizations/{org}/users",
            {"username": {"a": 1}, "email": "n@example.com", "password": NEW_PASSWORD},
            "username",
        ),
        (
            "POST",
            "organizations/{org}/users",
            {"username": "n", "email": 5, "password": NEW_PASSWORD},
            "email",
        ),
        (
            "POST",
            "organizations/{org}/users",
            {"username": "n", "email": "n@example.com", "password": 12345678901},
            "password",
        ),
        (
            "POST",
            "organizations/{org}/users",
            {"username": "n", "email": "bad", "password": NEW_PASSWORD},
            "email",
        ),
        (
            "POST",
            "organizations/{org}/users",
            {"username": "has space", "email": "n@example.com", "password": NEW_PASSWORD},
            "username",
        ),
        (
            "POST",
            "organizations/{org}/users",
            {
                "username": "n",
                "email": "n@example.com",
                "password": NEW_PASSWORD,
                "firstName": 7,
            },
            "firstName",
        ),
        (
            "POST",
            "organizations/{org}/users",
            {
                "username": "n",
                "email": "n@example.com",
                "password": NEW_PASSWORD,
                "lastName": "x\x00",
            },
            "lastName",
        ),
        (
            "POST",
            "organizations/{org}/users",
            {
                "username": "n",
                "email": "n@example.com",
                "password": NEW_PASSWORD,
                "firstName": "tab\there",
            },
            "firstName",
        ),
        ("POST", "organizations/{org}/identityProviders", {"name": False}, "name"),
    ],
)
def test_wrong_types_and_values_are_400_with_fields(
    client_for, admin, member, org, method, template, body, field
):
    before = snapshot()
    response = send(client_for(admin), method, write_path(template, org, member), body)
    result = assert_json_error(response, 400, "invalid_request")
    assert field in result["fields"], result
    assert result["message"]
    assert snapshot() == before


@pytest.mark.parametrize(("method", "template", "valid"), WRITES, ids=WRITE_IDS)
def test_an_oversize_body_is_413_json(client_for, admin, member, org, method, template, valid):
    before = snapshot()
    raw = json.dumps({"name": "x" * (1024 * 1024 + 1)})
    response = send(client_for(admin), method, write_path(template, org, member), raw)
    assert_json_error(response, 413, "request_too_large")
    assert snapshot() == before


def test_an_oversize_body_without_content_length_is_413(client_for, admin, org):
    """A chunked body (no Content-Length) is measured as it is read."""
    raw = json.dumps({"name": "x" * (1024 * 1024 + 1)}).encode()
    client = client_for(admin)
    response = client.generic(
        "POST",
        f"{API}/organizations/{org.id}/businessGroups",
        raw,
        content_type="application/json",
        HTTP_TRANSFER_ENCODING="chunked",
    )
    assert_json_error(response, 413)


def test_a_body_just_under_the_limit_is_read(client_for, admin, org):
    raw = json.dumps({"name": "x" * (1024 * 1024 - 100)})
    response = send(client_for(admin), "POST", f"{API}/organizations/{org.id}/businessGroups", raw)
    assert "name" in assert_json_error(response, 400)["fields"]


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "application/xml",
    ],
)
@pytest.mark.parametrize(("method", "template", "valid"), WRITES, ids=WRITE_IDS)
def test_an_unsupported_content_type_is_415_json(
    client_for, admin, member, org, method, template, valid, content_type
):
    before = snapshot()
    response = send(
        client_for(admin),
        method,
        write_path(template, org, member),
        json.dumps(valid),
        content_type=content_type,
    )
    assert_json_error(response, 415, "unsupported_media_type")
    assert snapshot() == before


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "organizations/{org}"),
        ("POST", "organizations/{org}"),
        ("PUT", "organizations/{org}/businessGroups"),
        ("DELETE", "organizations/{org}/environments"),
        ("PATCH", "organizations/{org}/users"),
        ("POST", "organizations/{org}/users/{user}"),
        ("PUT", "organizations/{org}/users/{user}"),
        ("PUT", "organizations/{org}/users/{user}/passwordReset"),
        ("POST", "organizations/{org}/users/{user}/permissions"),
        ("DELETE", "organizations/{org}/identityProviders"),
        ("PUT", "profile"),
        ("DELETE", "me"),
    ],
)
def test_wrong_method_is_405_json(client_for, admin, member, org, method, path):
    before = snapshot()
    response = send(client_for(admin), method, write_path(path, org, member), {"name": "x"})
    assert_json_error(response, 405, "method_not_allowed")
    assert response["Allow"]
    assert snapshot() == before


def test_errors_are_json_even_when_html_is_asked_for(client_for, admin, other_org):
    client = client_for(admin)
    response = client.get(f"{API}/organizations/{other_org.id}", HTTP_ACCEPT="text/html")
    assert response.status_code in (404, 406)
    assert response["Content-Type"].startswith("application/json")
    response = APIClient().get(f"{API}/profile", HTTP_ACCEPT="text/html")
    assert response["Content-Type"].startswith("application/json")
    assert response.status_code in (401, 406)


def test_a_write_of_an_existing_resource_records_one_audit_event(client_for, admin, org):
    send(
        client_for(admin), "POST", f"{API}/organizations/{org.id}/identityProviders", {"name": "I"}
    )
    event = AuditEvent.objects.get(action=AuditAction.IDENTITY_PROVIDER_CREATED)
    assert event.actor_user == admin
    assert event.client_ip == "127.0.0.1"


# -- CSRF ------------------------------------------------------------------------------------------
@pytest.fixture
def session_client(admin):
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username=admin.username, password=DEFAULT_PASSWORD)
    return client


@pytest.mark.parametrize(("method", "template", "valid"), WRITES, ids=WRITE_IDS)
def test_session_writes_without_a_csrf_token_are_refused(
    session_client, member, org, method, template, valid
):
    before = snapshot()
    response = send(session_client, method, write_path(template, org, member), valid)
    body = assert_json_error(response, 403, "forbidden")
    assert "CSRF" in body["message"]
    assert snapshot() == before


def test_session_writes_with_a_wrong_csrf_token_are_refused(session_client, org):
    session_client.cookies["csrftoken"] = _get_new_csrf_string()
    response = send(
        session_client,
        "POST",
        f"{API}/organizations/{org.id}/businessGroups",
        {"name": "Forged"},
        HTTP_X_CSRFTOKEN=_get_new_csrf_string(),
    )
    assert_json_error(response, 403)
    assert not Organization.objects.filter(name="Forged").exists()


def test_session_writes_with_the_csrf_token_go_through(session_client, org):
    token = _get_new_csrf_string()
    session_client.cookies["csrftoken"] = token
    response = send(
        session_client,
        "POST",
        f"{API}/organizations/{org.id}/businessGroups",
        {"name": "Legit"},
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 201


def test_an_oversize_form_body_of_a_session_is_a_json_refusal(session_client, org):
    """The CSRF check looks for a token in a form body; even then the answer is JSON."""
    session_client.cookies["csrftoken"] = _get_new_csrf_string()
    response = session_client.generic(
        "POST",
        f"{API}/organizations/{org.id}/businessGroups",
        b"name=" + b"x" * (1024 * 1024 + 1),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code in (413, 415)
    assert_json_error(response, response.status_code)


def test_an_oversize_json_body_of_a_session_with_its_csrf_token_is_413(session_client, org):
    token = _get_new_csrf_string()
    session_client.cookies["csrftoken"] = token
    response = send(
        session_client,
        "POST",
        f"{API}/organizations/{org.id}/businessGroups",
        json.dumps({"name": "x" * (1024 * 1024 + 1)}),
        HTTP_X_CSRFTOKEN=token,
    )
    assert_json_error(response, 413)


def test_session_reads_need_no_csrf_token(session_client, org):
    assert session_client.get(f"{API}/organizations/{org.id}/users").status_code == 200
    assert session_client.get(f"{API}/profile").status_code == 200


# -- cost -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", ["users", "environments", "businessGroups", "identityProviders"])
def test_list_queries_do_not_grow_with_the_page(
    client_for, admin, org, suffix, django_assert_max_num_queries
):
    def create(n: int) -> None:
        for _ in range(n):
            UserFactory(organization=org)
            EnvironmentFactory(organization=org)
            OrganizationFactory(parent=org)
            IdentityProviderFactory(organization=org)

    client = client_for(admin)
    path = f"{API}/organizations/{org.id}/{suffix}"
    create(2)
    with CaptureQueriesContext(connection) as few:
        assert client.get(path).status_code == 200
    create(20)
    with django_assert_max_num_queries(len(few)):
        assert len(client.get(path).json()["data"]) >= 20
