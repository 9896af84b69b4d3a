"""Bearer tokens on the resource APIs: effective power decided afresh on every request.

SPEC §3: (scopes granted to the token) ∩ (scopes the app holds now) ∩ (what the user may do
now). SPEC §4: 401 without error code for no token, 401 invalid_token for a dead token or one
none of whose scopes the app still holds, 403 insufficient_scope for a live token lacking the
scope or permission.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client, RequestFactory
from django.utils import timezone
from rest_framework.authentication import get_authorization_header
from rest_framework.request import Request

from accounts.access import Access
from accounts.catalog import Permission
from connected_apps.services import (
    connected_app_delete,
    connected_app_set_scopes,
    connected_app_update,
)
from oauth.authentication import authorization_header
from oauth.models import AccessToken
from tests.factories import EnvironmentFactory, OrganizationFactory, PermissionGrantFactory
from tests.oauth.helpers import bearer, mint_access_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def env(org):
    return EnvironmentFactory(organization=org, name="Production", type="production")


@pytest.fixture
def viewer(member, org):
    PermissionGrantFactory(user=member, organization=org, permission=Permission.VIEW_ENVIRONMENT)
    return member


def environments_url(org):
    return f"/accounts/api/organizations/{org.id}/environments"


def test_no_token_is_401_with_a_bare_bearer_challenge(org):
    response = Client().get(environments_url(org))
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="doorman"'
    assert "error=" not in response["WWW-Authenticate"]
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    "header",
    ["Bearer not-a-token", "Bearer", "Bearer a b", "Bearer \u00e9t\u00e9", "bearer " + "x" * 600],
)
def test_unknown_or_malformed_token_is_401_invalid_token(org, header):
    response = Client().get(environments_url(org), HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]
    assert response.json()["error"] == "invalid_token"


@pytest.mark.parametrize(
    "header", [None, "", "Bearer abc", "bearer  a b", "Basic eDp5", "Bearer \u00e9t\u00e9"]
)
def test_authorization_header_is_drfs(header):
    meta = {} if header is None else {"HTTP_AUTHORIZATION": header}
    request = Request(RequestFactory().get("/accounts/api/profile", **meta))
    assert authorization_header(request) == get_authorization_header(request)


def test_live_token_with_scope_and_permission_reads(viewer, org, env, code_app):
    raw = mint_access_token(user=viewer, app=code_app.app, scope="view:environment")
    response = Client().get(environments_url(org), **bearer(raw))
    assert response.status_code == 200
    assert [e["name"] for e in response.json()["data"]] == ["Production"]


def test_token_dies_on_the_request_after_its_only_scope_is_removed(
    viewer, admin, org, env, code_app
):
    raw = mint_access_token(user=viewer, app=code_app.app, scope="view:environment")
    client = Client()
    assert client.get(environments_url(org), **bearer(raw)).status_code == 200

    connected_app_set_scopes(
        access=Access(user=admin), app=code_app.app, scopes=["openid", "profile"]
    )

    response = client.get(environments_url(org), **bearer(raw))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_token_keeping_another_scope_gets_403_insufficient_scope(viewer, admin, org, env, code_app):
    raw = mint_access_token(user=viewer, app=code_app.app, scope="profile view:environment")
    connected_app_set_scopes(access=Access(user=admin), app=code_app.app, scopes=["profile"])

    client = Client()
    response = client.get(environments_url(org), **bearer(raw))
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response["WWW-Authenticate"]
    assert response.json()["error"] == "insufficient_scope"
    assert client.get("/accounts/api/profile", **bearer(raw)).status_code == 200


def test_token_scope_not_granted_is_403_even_if_user_may(viewer, org, env, code_app):
    raw = mint_access_token(user=viewer, app=code_app.app, scope="profile")
    response = Client().get(environments_url(org), **bearer(raw))
    assert response.status_code == 403


def test_permission_taken_from_user_is_403_on_next_request(viewer, org, env, code_app):
    raw = mint_access_token(user=viewer, app=code_app.app, scope="view:environment")
    client = Client()
    assert client.get(environments_url(org), **bearer(raw)).status_code == 200
    viewer.permission_grants.all().delete()
    assert client.get(environments_url(org), **bearer(raw)).status_code == 403


def test_disabling_the_app_kills_its_tokens_and_enabling_restores_them(
    viewer, admin, org, env, code_app
):
    raw = mint_access_token(user=viewer, app=code_app.app, scope="view:environment")
    client = Client()
    connected_app_update(access=Access(user=admin), app=code_app.app, changes={"enabled": False})
    assert client.get(environments_url(org), **bearer(raw)).status_code == 401
    connected_app_update(access=Access(user=admin), app=code_app.app, changes={"enabled": True})
    assert client.get(environments_url(org), **bearer(raw)).status_code == 200


def test_deleting_the_app_deletes_its_tokens(viewer, admin, org, env, code_app):
    raw = mint_access_token(user=viewer, app=code_app.app, scope="view:environment")
    connected_app_delete(access=Access(user=admin), app=code_app.app)
    assert Client().get(environments_url(org), **bearer(raw)).status_code == 401
    assert AccessToken.objects.count() == 0


def test_expired_token_is_401(viewer, org, env, code_app):
    raw = mint_access_token(user=viewer, app=code_app.app, scope="view:environment")
    AccessToken.objects.update(expires=timezone.now() - timedelta(seconds=1))
    assert Client().get(environments_url(org), **bearer(raw)).status_code == 401


def test_inactive_user_token_is_401(viewer, org, env, code_app):
    raw = mint_access_token(user=viewer, app=code_app.app, scope="view:environment")
    viewer.is_active = False
    viewer.save(update_fields=["is_active"])
    assert Client().get(environments_url(org), **bearer(raw)).status_code == 401


def test_internal_app_token_of_an_outsider_is_401(other_admin, code_app):
    raw = mint_access_token(user=other_admin, app=code_app.app, scope="profile")
    assert Client().get("/accounts/api/profile", **bearer(raw)).status_code == 401


def test_read_full_reads_but_never_writes(admin, org, code_app, make_app):
    app = make_app(scopes=["read:full", "full", "profile"]).app
    raw = mint_access_token(user=admin, app=app, scope="read:full")
    client = Client()
    assert client.get(environments_url(org), **bearer(raw)).status_code == 200
    response = client.post(
        environments_url(org),
        data={"name": "Staging", "type": "sandbox"},
        content_type="application/json",
        **bearer(raw),
    )
    assert response.status_code == 403
    assert org.environments.count() == 0


def test_full_does_what_the_user_can_without_csrf(admin, org, make_app):
    app = make_app(scopes=["full"]).app
    raw = mint_access_token(user=admin, app=app, scope="full")
    response = Client(enforce_csrf_checks=True).post(
        environments_url(org),
        data={"name": "Staging", "type": "sandbox"},
        content_type="application/json",
        **bearer(raw),
    )
    assert response.status_code == 201
    assert org.environments.get().name == "Staging"


def test_full_never_exceeds_the_user(member, org, make_app):
    app = make_app(scopes=["full"]).app
    raw = mint_access_token(user=member, app=app, scope="full")
    response = Client().post(
        environments_url(org),
        data={"name": "Staging", "type": "sandbox"},
        content_type="application/json",
        **bearer(raw),
    )
    assert response.status_code == 403


def test_platform_token_carries_full_for_its_user(admin, org):
    raw = mint_access_token(user=admin, app=None, scope="full")
    response = Client().get(f"/accounts/api/organizations/{org.id}", **bearer(raw))
    assert response.status_code == 200
    assert response.json()["id"] == str(org.id)


def test_profile_needs_the_profile_scope(viewer, code_app):
    raw = mint_access_token(user=viewer, app=code_app.app, scope="view:environment")
    assert Client().get("/accounts/api/profile", **bearer(raw)).status_code == 403
    raw = mint_access_token(user=viewer, app=code_app.app, scope="profile")
    response = Client().get("/accounts/api/me", **bearer(raw))
    assert response.status_code == 200
    assert response.json()["username"] == viewer.username


# -- own-behalf apps (client_credentials) ----------------------------------------------------
def test_app_token_reads_its_creators_profile(cc_app, admin):
    raw = mint_access_token(user=None, app=cc_app.app, scope="read:organization profile")
    response = Client().get("/accounts/api/profile", **bearer(raw))
    assert response.status_code == 200
    assert response.json()["id"] == str(admin.id)


def test_app_token_acts_with_its_context_bound_scopes_only(cc_app, org, env):
    raw = mint_access_token(
        user=None, app=cc_app.app, scope="read:organization view:environment profile"
    )
    client = Client()
    assert client.get(f"/accounts/api/organizations/{org.id}", **bearer(raw)).status_code == 200
    assert client.get(environments_url(org), **bearer(raw)).status_code == 200
    # The creator is an administrator, but the app is not: no user listing, no writes.
    assert (
        client.get(f"/accounts/api/organizations/{org.id}/users", **bearer(raw)).status_code == 403
    )
    response = client.post(
        f"/accounts/api/organizations/{org.id}/businessGroups",
        data={"name": "Robots"},
        content_type="application/json",
        **bearer(raw),
    )
    assert response.status_code == 403


def test_app_token_scope_in_one_org_does_not_reach_a_business_group(cc_app, org):
    group = OrganizationFactory(parent=org, name="Retail")
    raw = mint_access_token(user=None, app=cc_app.app, scope="read:organization profile")
    response = Client().get(f"/accounts/api/organizations/{group.id}", **bearer(raw))
    assert response.status_code == 403


def test_app_token_never_reaches_another_tenant(cc_app, other_org):
    raw = mint_access_token(user=None, app=cc_app.app, scope="read:organization profile")
    response = Client().get(f"/accounts/api/organizations/{other_org.id}", **bearer(raw))
    assert response.status_code == 404


def test_app_token_loses_a_scope_on_the_next_request(cc_app, admin, org):
    raw = mint_access_token(user=None, app=cc_app.app, scope="read:organization profile")
    client = Client()
    url = f"/accounts/api/organizations/{org.id}"
    assert client.get(url, **bearer(raw)).status_code == 200
    connected_app_set_scopes(access=Access(user=admin), app=cc_app.app, scopes=[])
    # profile stays (implicit for own-behalf apps), so the token lives but may not read the org.
    assert client.get(url, **bearer(raw)).status_code == 403


def test_bearer_request_costs_a_bounded_number_of_queries(
    viewer, org, env, code_app, django_assert_max_num_queries
):
    raw = mint_access_token(user=viewer, app=code_app.app, scope="view:environment")
    client = Client()
    with django_assert_max_num_queries(8):
        assert client.get(environments_url(org), **bearer(raw)).status_code == 200


def test_changes_made_by_an_app_token_are_audited_as_the_app(make_app, org, admin):
    from audit.models import AuditEvent

    app = make_app(
        client_name="Provisioner",
        grant_types=["client_credentials"],
        redirect_uris=[],
        scopes=[{"scope": "manage:business_groups", "context_params": {"org": str(org.id)}}],
    ).app
    raw = mint_access_token(user=None, app=app, scope="manage:business_groups profile")
    response = Client().post(
        f"/accounts/api/organizations/{org.id}/businessGroups",
        data={"name": "Robots"},
        content_type="application/json",
        **bearer(raw),
    )
    assert response.status_code == 201
    event = AuditEvent.objects.get(action="business_group.created")
    assert event.actor_user is None
    assert event.actor_client_id == app.client_id
    assert event.actor_name == "Provisioner"
