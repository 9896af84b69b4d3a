"""Attack: give an app more power than its creator holds (issue 12 item 2, SPEC §10).

A member who holds only `manage:connected_apps` in one business group registers a
client_credentials app holding `read:users`, `manage:users` and `edit:organization` there,
and uses its token to list users and hand out permissions. Before the fix the app was
created with those scopes and its token used them."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client
from django.urls import reverse

from accounts.access import Access
from connected_apps.models import AppScope, ConnectedApp
from connected_apps.services import connected_app_create
from tests.factories import (
    DEFAULT_PASSWORD,
    PermissionGrantFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def member_auth(signed_in):
    return signed_in("bg-dev")


def in_team(tenant, *scopes: str) -> list[dict]:
    return [{"scope": s, "context_params": {"org": str(tenant["team"].id)}} for s in scopes]


def robot(tenant, **fields) -> dict:
    return {
        "client_name": "Robot",
        "grant_types": ["client_credentials"],
        "owner_org_id": str(tenant["team"].id),
        **fields,
    }


def test_an_app_cannot_hold_permissions_its_creator_lacks(http, urls, tenant, member_auth):
    apps = urls["api"] + "/connectedApplications"
    for scope in ("read:users", "manage:users", "edit:organization"):
        response = http().post(
            apps, json=robot(tenant, scopes=in_team(tenant, scope)), headers=member_auth
        )
        assert response.status_code == 403, (scope, response.text)
    assert not ConnectedApp.objects.filter(name="Robot").exists()
    # What the member holds, the app may hold.
    allowed = http().post(
        apps,
        json=robot(tenant, scopes=in_team(tenant, "manage:connected_apps")),
        headers=member_auth,
    )
    assert allowed.status_code == 201, allowed.text


def test_scopes_cannot_be_widened_afterwards(http, urls, tenant, member_auth):
    apps = urls["api"] + "/connectedApplications"
    created = http().post(
        apps,
        json=robot(tenant, scopes=in_team(tenant, "manage:connected_apps")),
        headers=member_auth,
    )
    client_id = created.json()["client_id"]
    wider = in_team(tenant, "manage:connected_apps", "manage:users")
    put = http().put(f"{apps}/{client_id}/scopes", json={"scopes": wider}, headers=member_auth)
    assert put.status_code == 403, put.text
    patch = http().patch(f"{apps}/{client_id}", json={"scopes": wider}, headers=member_auth)
    assert patch.status_code == 403, patch.text
    through_org = http().put(
        f"{urls['api']}/organizations/{tenant['team'].id}/connectedApplications/{client_id}/scopes",
        json={"scopes": wider},
        headers=member_auth,
    )
    assert through_org.status_code == 403, through_org.text
    held = set(AppScope.objects.filter(app__client_id=client_id).values_list("scope", flat=True))
    assert held == {"manage:connected_apps"}


def test_full_on_an_app_needs_the_owner_orgs_administrator(http, urls, tenant, member_auth):
    body = {
        "client_name": "Everything",
        "grant_types": ["authorization_code"],
        "redirect_uris": ["https://client.example/cb"],
        "owner_org_id": str(tenant["team"].id),
    }
    for scope in ("full", "read:full"):
        response = http().post(
            urls["api"] + "/connectedApplications",
            json={**body, "scopes": [scope]},
            headers=member_auth,
        )
        assert response.status_code == 403, (scope, response.text)


def test_an_app_made_by_an_admin_stays_editable_by_a_manager(http, urls, tenant, member_auth):
    """Scopes left as they are confer nothing: a manager may rename such an app or drop a
    scope without holding every scope an administrator gave it."""
    app = connected_app_create(
        access=Access(user=tenant["root_admin"]),
        owner=tenant["team"],
        client_name="Admin Robot",
        grant_types=["client_credentials"],
        scopes=in_team(tenant, "manage:users", "read:organization"),
    ).app
    apps = urls["api"] + "/connectedApplications"
    renamed = http().patch(
        f"{apps}/{app.client_id}", json={"client_name": "Renamed"}, headers=member_auth
    )
    assert renamed.status_code == 200, renamed.text
    narrowed = http().put(
        f"{apps}/{app.client_id}/scopes",
        json={"scopes": in_team(tenant, "manage:users")},
        headers=member_auth,
    )
    assert narrowed.status_code == 204, narrowed.text


def test_an_app_token_cannot_hand_out_power_it_lacks(http, urls, tenant):
    """An app holding manage:users (given by an administrator) may manage users' grants of
    what it holds, but never confer a role or a permission it does not hold."""
    app = connected_app_create(
        access=Access(user=tenant["root_admin"]),
        owner=tenant["org"],
        client_name="HR Robot",
        grant_types=["client_credentials"],
        scopes=[{"scope": "manage:users", "context_params": {"org": str(tenant["org"].id)}}],
    )
    token = (
        http()
        .post(
            urls["token"],
            data={"grant_type": "client_credentials"},
            auth=(app.app.client_id, app.client_secret),
        )
        .json()["access_token"]
    )
    auth = {"Authorization": f"Bearer {token}"}
    target = (
        f"{urls['api']}/organizations/{tenant['org'].id}/users/{tenant['member'].id}/permissions"
    )
    role = http().put(target, json={"role": "Organization Administrator"}, headers=auth)
    assert role.status_code == 403, role.text
    unheld = http().put(target, json={"permissions": ["edit:organization"]}, headers=auth)
    assert unheld.status_code == 403, unheld.text
    held = http().put(target, json={"permissions": ["read:users"]}, headers=auth)
    assert held.status_code == 200, held.text


def test_the_portal_forms_refuse_it_too(tenant):
    client = Client()
    client.force_login(tenant["member"])
    response = client.post(
        reverse("connected_apps:app_create"),
        {
            "submission_id": str(uuid.uuid4()),
            "client_name": "Portal Robot",
            "app_type": "own",
            "scopes": ["manage:users"],
            "orgs_manage_users": [str(tenant["team"].id)],
            "owner": str(tenant["team"].id),
            "audience": "internal",
        },
    )
    assert response.status_code == 200
    assert not ConnectedApp.objects.filter(name="Portal Robot").exists()
    assert "permissions you hold yourself" in response.content.decode()

    app = connected_app_create(
        access=Access(user=tenant["member"]),
        owner=tenant["team"],
        client_name="Mine",
        grant_types=["client_credentials"],
        scopes=in_team(tenant, "manage:connected_apps"),
    ).app
    scopes = client.post(
        reverse("connected_apps:app_scopes", args=[app.client_id]),
        {"scopes": ["manage:connected_apps", "manage:users"]},
    )
    assert scopes.status_code == 400
    held = set(AppScope.objects.filter(app=app).values_list("scope", flat=True))
    assert held == {"manage:connected_apps"}


def test_every_permission_scope_together_is_still_not_full(http, urls, tenant):
    """A member puts all nine permission scopes on an app (allowed: consent decides what it
    gets); an administrator's token through it must still not confer the role, which needs
    a session or `full`."""
    from accounts.catalog import Permission

    PermissionGrantFactory(
        user=tenant["member"], organization=tenant["org"], permission="manage:connected_apps"
    )
    app = connected_app_create(
        access=Access(user=tenant["member"]),
        owner=tenant["org"],
        client_name="Nine",
        grant_types=["password"],
        scopes=list(Permission.values),
    )
    token = http().post(
        urls["token"],
        data={"grant_type": "password", "username": "root-admin", "password": DEFAULT_PASSWORD},
        auth=(app.app.client_id, app.client_secret),
    )
    assert token.status_code == 200, token.text
    auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
    target = (
        f"{urls['api']}/organizations/{tenant['org'].id}/users/{tenant['member'].id}/permissions"
    )
    role = http().put(target, json={"role": "Organization Administrator"}, headers=auth)
    assert role.status_code == 403, role.text
