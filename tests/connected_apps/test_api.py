"""The connected-apps management API (SPEC §2, §4): create, read, change, rotate, scopes,
usage, delete; validation; limits; tenant isolation; bearer tokens."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.contrib.auth.hashers import check_password
from django.test import Client

from accounts.access import Access
from audit.models import AuditEvent
from connected_apps import services
from connected_apps.models import AppScope, AppUsageDay, Authorization, ConnectedApp
from connected_apps.usage import usage_record_token_issued, usage_rollup
from tests.factories import EnvironmentFactory, OrganizationFactory, UserFactory
from tests.oauth.helpers import bearer, mint_access_token

pytestmark = pytest.mark.django_db

APPS = "/accounts/api/connectedApplications"


def rsa_public_pem(bits: int = 2048) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture
def admin_client(admin):
    client = Client()
    client.force_login(admin)
    return client


def post_json(client, url, body, **extra):
    return client.post(url, data=body, content_type="application/json", **extra)


SEED_BODY = {
    "client_name": "GitProxy",
    "grant_types": ["refresh_token", "authorization_code"],
    "redirect_uris": ["https://example.com/"],
    "scopes": ["profile", "offline_access"],
    "public_keys": [],
    "audience": "internal",
}


def test_create_as_in_the_seed_returns_the_secret_once(admin_client, org):
    response = post_json(admin_client, APPS, SEED_BODY)
    assert response.status_code == 201, response.content
    body = response.json()
    assert len(body["client_id"]) == 32
    assert len(body["client_secret"]) >= 43
    assert body["scopes"] == ["offline_access", "profile"]
    assert body["owner_org_id"] == str(org.id)
    assert response["Cache-Control"] == "no-store"
    app = ConnectedApp.objects.get(client_id=body["client_id"])
    assert body["client_secret"] not in app.client_secret
    assert check_password(body["client_secret"], app.client_secret)
    # Never shown again.
    again = admin_client.get(f"{APPS}/{body['client_id']}").json()
    assert "client_secret" not in again
    event = AuditEvent.objects.get(action="app.created")
    assert body["client_secret"] not in str(event.details)


def test_create_with_a_user_token_as_in_the_seed(admin, org):
    raw = mint_access_token(user=admin, app=None, scope="full")
    response = post_json(Client(), APPS, SEED_BODY, **bearer(raw))
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"client_name": ""}, "client_name"),
        ({"client_name": "x" * 101}, "client_name"),
        ({"client_name": 5}, "client_name"),
        ({"grant_types": []}, "grant_types"),
        ({"grant_types": "authorization_code"}, "grant_types"),
        ({"grant_types": ["implicit"]}, "grant_types"),
        ({"grant_types": ["client_credentials", "password"]}, "grant_types"),
        ({"redirect_uris": []}, "redirect_uris"),
        ({"redirect_uris": ["http://example.com/cb"]}, "redirect_uris"),
        ({"redirect_uris": ["https://example.com/cb#frag"]}, "redirect_uris"),
        ({"redirect_uris": ["/relative"]}, "redirect_uris"),
        ({"redirect_uris": "https://example.com/"}, "redirect_uris"),
        ({"scopes": ["launch:missiles"]}, "scopes"),
        ({"scopes": "profile"}, "scopes"),
        ({"audience": "public"}, "audience"),
        ({"website_url": "javascript:alert(1)"}, "website_url"),
        ({"public_keys": ["not a key"]}, "public_keys"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_invalid_fields_are_400_and_create_nothing(admin_client, change, field):
    response = post_json(admin_client, APPS, {**SEED_BODY, **change})
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]
    assert ConnectedApp.objects.count() == 0


def test_localhost_http_redirects_are_allowed(admin_client):
    body = {**SEED_BODY, "redirect_uris": ["http://localhost:8080/cb", "http://127.0.0.1/cb"]}
    assert post_json(admin_client, APPS, body).status_code == 201


def test_jwt_bearer_needs_public_keys_and_takes_pem_or_jwk(admin_client):
    body = {**SEED_BODY, "grant_types": ["urn:ietf:params:oauth:grant-type:jwt-bearer"]}
    response = post_json(admin_client, APPS, body)
    assert response.status_code == 400
    assert "public_keys" in response.json()["fields"]
    ec_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    import jwt

    jwk = jwt.algorithms.ECAlgorithm.to_jwk(ec_key, as_dict=True)
    body["public_keys"] = [rsa_public_pem(), jwk]
    assert post_json(admin_client, APPS, body).status_code == 201


def test_private_keys_and_weak_keys_are_refused(admin_client):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    body = {**SEED_BODY, "grant_types": ["urn:ietf:params:oauth:grant-type:jwt-bearer"]}
    for keys in ([private_pem], [rsa_public_pem(1024)], [{"kty": "oct", "k": "c2VjcmV0"}]):
        response = post_json(admin_client, APPS, {**body, "public_keys": keys})
        assert response.status_code == 400, keys
    assert ConnectedApp.objects.count() == 0


def test_malformed_json_is_400(admin_client):
    response = admin_client.post(APPS, data="{nope", content_type="application/json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    response = post_json(admin_client, APPS, ["a", "list"])
    assert response.status_code == 400


def test_own_behalf_scopes_are_bound_to_contexts_in_the_owner_tree(admin_client, org, other_org):
    group = OrganizationFactory(parent=org, name="Retail")
    env = EnvironmentFactory(organization=group)
    body = {
        "client_name": "CI",
        "grant_types": ["client_credentials"],
        "scopes": [
            {
                "scope": "view:environment",
                "context_params": {"org": str(group.id), "envId": str(env.id)},
            },
            {"scope": "read:organization", "context_params": {"org": str(org.id)}},
        ],
    }
    response = post_json(admin_client, APPS, body)
    assert response.status_code == 201, response.content
    client_id = response.json()["client_id"]
    scopes = admin_client.get(f"{APPS}/{client_id}/scopes").json()["scopes"]
    assert {
        "scope": "view:environment",
        "context_params": {"org": str(group.id), "envId": str(env.id)},
    } in scopes
    # Another tenant's org, or an environment of another org, is refused.
    bad = {
        **body,
        "scopes": [{"scope": "read:organization", "context_params": {"org": str(other_org.id)}}],
    }
    assert post_json(admin_client, APPS, bad).status_code == 400
    bad = {
        **body,
        "scopes": [
            {
                "scope": "view:environment",
                "context_params": {"org": str(org.id), "envId": str(env.id)},
            }
        ],
    }
    assert post_json(admin_client, APPS, bad).status_code == 400


def test_scopes_put_replaces_the_set_and_answers_204(admin_client, code_app):
    url = f"{APPS}/{code_app.app.client_id}/scopes"
    response = admin_client.put(
        url, data={"scopes": [{"scope": "profile"}, "openid"]}, content_type="application/json"
    )
    assert response.status_code == 204
    assert sorted(s["scope"] for s in admin_client.get(url).json()["scopes"]) == [
        "openid",
        "profile",
    ]
    assert AuditEvent.objects.filter(action="app.scopes_changed").count() == 1


def test_too_many_scopes_is_400_and_changes_nothing(admin_client, code_app):
    url = f"{APPS}/{code_app.app.client_id}/scopes"
    before = AppScope.objects.filter(app=code_app.app).count()
    response = admin_client.put(
        url, data={"scopes": ["profile"] * 1001}, content_type="application/json"
    )
    assert response.status_code == 400
    assert AppScope.objects.filter(app=code_app.app).count() == before


def test_patch_changes_fields_and_disables(admin_client, code_app):
    url = f"{APPS}/{code_app.app.client_id}"
    response = admin_client.patch(
        url,
        data={"client_name": "Renamed", "enabled": False, "audience": "everyone"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["client_name"], body["enabled"], body["audience"]) == (
        "Renamed",
        False,
        "everyone",
    )
    response = admin_client.patch(url, data={"enabled": "no"}, content_type="application/json")
    assert response.status_code == 400
    response = admin_client.patch(url, data={"client_id": "mine"}, content_type="application/json")
    assert response.status_code == 400


def test_rotate_secret_both_ways_invalidates_the_old_one(admin_client, code_app):
    app = code_app.app
    old = code_app.client_secret
    response = admin_client.post(f"{APPS}/{app.client_id}/client-secret")
    assert response.status_code == 200
    first = response.json()["client_secret"]
    app.refresh_from_db()
    assert not check_password(old, app.client_secret)
    assert check_password(first, app.client_secret)
    response = admin_client.patch(f"{APPS}/{app.client_id}?resetSecret=true")
    second = response.json()["client_secret"]
    app.refresh_from_db()
    assert second != first and check_password(second, app.client_secret)
    assert AuditEvent.objects.filter(action="app.secret_rotated").count() == 2


def test_delete_removes_the_app(admin_client, code_app):
    url = f"{APPS}/{code_app.app.client_id}"
    assert admin_client.delete(url).status_code == 204
    assert admin_client.get(url).status_code == 404


def test_list_is_paginated_searchable_and_includes_usage(admin_client, make_app):
    for name in ("Alpha", "Beta", "Gamma"):
        make_app(client_name=name)
    body = admin_client.get(f"{APPS}?limit=2").json()
    assert body["total"] == 3 and [a["client_name"] for a in body["data"]] == ["Alpha", "Beta"]
    body = admin_client.get(f"{APPS}?search=gam").json()
    assert [a["client_name"] for a in body["data"]] == ["Gamma"]
    body = admin_client.get(f"{APPS}?includeUsage=true").json()
    assert body["data"][0]["usage"]["users"] == 0
    assert len(body["data"][0]["usage"]["tokens_issued"]) == 30


def test_list_with_usage_has_no_n_plus_one(admin_client, make_app, django_assert_max_num_queries):
    for i in range(12):
        make_app(client_name=f"App {i}")
    with django_assert_max_num_queries(12):
        assert admin_client.get(f"{APPS}?includeUsage=true&limit=50").status_code == 200


def test_usage_counts_users_orgs_and_tokens_per_day(admin_client, code_app, member, admin):
    app = code_app.app
    app.audience = "everyone"
    app.save()
    outsider = UserFactory()
    for user in (member, admin, outsider):
        Authorization.objects.create(user=user, app=app, scopes=["profile"])
    for _ in range(3):
        usage_record_token_issued(app=app)
    body = admin_client.get(f"{APPS}/{app.client_id}/usage").json()
    assert body["users"] == 3
    assert body["organizations"] == 2
    assert body["tokens_issued"][-1]["count"] == 3
    assert sum(d["count"] for d in body["tokens_issued"]) == 3
    assert body["last_used_at"] is not None
    # The beat task moves the pending counts into the day's row, counted once either way.
    assert not AppUsageDay.objects.filter(app=app).exists()
    assert usage_rollup() == 3
    assert AppUsageDay.objects.get(app=app).tokens_issued == 3
    usage_record_token_issued(app=app)
    body = admin_client.get(f"{APPS}/{app.client_id}/usage").json()
    assert body["tokens_issued"][-1]["count"] == 4
    assert usage_rollup() == 1
    assert AppUsageDay.objects.get(app=app).tokens_issued == 4
    assert usage_rollup() == 0


def test_other_tenant_gets_404_everywhere(code_app, other_admin, org):
    client = Client()
    client.force_login(other_admin)
    base = f"{APPS}/{code_app.app.client_id}"
    for method, url in [
        ("get", base),
        ("patch", base),
        ("delete", base),
        ("post", f"{base}/client-secret"),
        ("get", f"{base}/scopes"),
        ("put", f"{base}/scopes"),
        ("get", f"{base}/usage"),
        ("get", f"/accounts/api/organizations/{org.id}/connectedApplications"),
        (
            "get",
            f"/accounts/api/organizations/{org.id}/connectedApplications/{code_app.app.client_id}",
        ),
    ]:
        response = getattr(client, method)(url, data={}, content_type="application/json")
        assert response.status_code == 404, (method, url, response.status_code)
    assert client.get(APPS).json()["total"] == 0
    code_app.app.refresh_from_db()
    assert code_app.app.enabled


def test_member_without_manage_connected_apps_gets_403(code_app, member):
    client = Client()
    client.force_login(member)
    assert client.get(f"{APPS}/{code_app.app.client_id}").status_code == 403
    assert post_json(client, APPS, SEED_BODY).status_code == 403
    assert client.get(APPS).json()["total"] == 0


def test_org_addressed_routes_require_the_owner_org(admin_client, org, code_app):
    group = OrganizationFactory(parent=org, name="Retail")
    url = f"/accounts/api/organizations/{org.id}/connectedApplications"
    assert admin_client.get(f"{url}/{code_app.app.client_id}").status_code == 200
    other = f"/accounts/api/organizations/{group.id}/connectedApplications"
    assert admin_client.get(f"{other}/{code_app.app.client_id}").status_code == 404
    response = post_json(admin_client, other, SEED_BODY)
    assert response.status_code == 201
    assert response.json()["owner_org_id"] == str(group.id)


def test_bearer_token_needs_manage_connected_apps(admin, code_app):
    raw = mint_access_token(user=admin, app=None, scope="full")
    assert Client().get(APPS, **bearer(raw)).json()["total"] == 1
    app = services.connected_app_create(
        access=Access(user=admin),
        owner=admin.organization,
        client_name="Reader",
        grant_types=["authorization_code"],
        redirect_uris=["https://r.example/cb"],
        scopes=["read:full", "profile"],
    ).app
    raw = mint_access_token(user=admin, app=app, scope="read:full")
    assert post_json(Client(), APPS, SEED_BODY, **bearer(raw)).status_code == 403


def test_app_limit_per_root_org(admin_client, monkeypatch, make_app):
    monkeypatch.setattr(services.lifecycle, "MAX_APPS_PER_ROOT_ORG", 2)
    make_app()
    make_app()
    response = post_json(admin_client, APPS, SEED_BODY)
    assert response.status_code == 400
    assert ConnectedApp.objects.count() == 2


@pytest.mark.parametrize("missing", ["client_name", "grant_types"])
def test_missing_required_fields_are_400(admin_client, missing):
    body = {k: v for k, v in SEED_BODY.items() if k != missing}
    response = post_json(admin_client, APPS, body)
    assert response.status_code == 400
    assert missing in response.json()["fields"]
    assert ConnectedApp.objects.count() == 0


def test_changes_and_deletion_are_audited_without_secrets(admin_client, admin, code_app):
    app = code_app.app
    url = f"{APPS}/{app.client_id}"
    admin_client.patch(url, data={"enabled": False}, content_type="application/json")
    event = AuditEvent.objects.get(action="app.updated")
    assert event.actor_user == admin
    assert event.target_id == str(app.pk)
    assert event.details["before"]["enabled"] is True
    assert event.details["after"]["enabled"] is False
    admin_client.delete(url)
    event = AuditEvent.objects.get(action="app.deleted")
    assert event.details == {"client_id": app.client_id, "client_name": app.name}
    for row in AuditEvent.objects.all():
        assert code_app.client_secret not in str(row.details)
