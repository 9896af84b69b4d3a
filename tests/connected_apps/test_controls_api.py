"""The org controls API (SPEC §4, §6): settings, allowlist and authorized apps, for org admins
of the root org only; other tenants get 404, non-admins 403; every change is audited."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.access import Access
from audit.models import AuditAction, AuditEvent
from connected_apps import controls
from connected_apps.models import Authorization
from connected_apps.services import connected_app_set_scopes
from oauth.services import authorization_grant
from tests.factories import OrganizationFactory, UserFactory
from tests.oauth.helpers import bearer, mint_access_token
from tests.oauth.tokenkit import bearer_profile

pytestmark = pytest.mark.django_db

SCOPES = ["openid", "profile", "email", "offline_access", "view:environment"]


def settings_url(org) -> str:
    return f"/accounts/api/organizations/{org.id}/connectedApplicationsSettings"


def allowlist_url(org, client_id: str = "") -> str:
    base = f"/accounts/api/organizations/{org.id}/connectedApplicationsAllowlist"
    return f"{base}/{client_id}" if client_id else base


def authorized_url(org, client_id: str = "") -> str:
    base = f"/accounts/api/organizations/{org.id}/authorizedApplications"
    return f"{base}/{client_id}" if client_id else base


@pytest.fixture
def foreign_app(make_app, other_admin):
    return make_app(actor=other_admin, client_name="Third Party", audience="everyone").app


# -- settings ----------------------------------------------------------------------------------
def test_settings_default_then_change(client_for, admin, org):
    client = client_for(admin)
    assert client.get(settings_url(org)).json() == {"enabled": True, "allowlist_enabled": False}
    response = client.put(settings_url(org), {"allowlist_enabled": True}, format="json")
    assert response.status_code == 200
    assert response.json() == {"enabled": True, "allowlist_enabled": True}
    response = client.put(settings_url(org), {"enabled": False}, format="json")
    assert response.json() == {"enabled": False, "allowlist_enabled": True}
    event = AuditEvent.objects.filter(action=AuditAction.ORG_APPS_SETTINGS_CHANGED).first()
    assert event.actor_user == admin and event.organization_id == org.id
    assert event.details == {
        "before": {"enabled": True, "allowlist_enabled": True},
        "after": {"enabled": False, "allowlist_enabled": True},
    }


@pytest.mark.parametrize(
    "body", [{}, {"enabled": "maybe"}, {"colour": "red"}, ["enabled"], {"enabled": None}]
)
def test_bad_settings_bodies_are_400_json(client_for, admin, org, body):
    response = client_for(admin).put(settings_url(org), body, format="json")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert controls.org_settings_get(org=org).enabled


def test_other_tenant_is_404_and_members_are_403(client_for, admin, member, other_admin, org):
    for url in (settings_url(org), allowlist_url(org), authorized_url(org)):
        assert client_for(other_admin).get(url).status_code == 404
        assert client_for(member).get(url).status_code == 403
    assert client_for(other_admin).put(settings_url(org), {"enabled": False}).status_code == 404
    assert controls.org_settings_get(org=org).enabled


def test_business_group_is_404(client_for, admin, org):
    group = OrganizationFactory(name="BG", parent=org)
    assert client_for(admin).get(settings_url(group)).status_code == 404


def test_bearer_token_needs_manage_scope_to_write(admin, org):
    reader = mint_access_token(user=admin, app=None, scope="read:full")
    client = Client()
    assert client.get(settings_url(org), **bearer(reader)).status_code == 200
    response = client.put(
        settings_url(org), '{"enabled": false}', content_type="application/json", **bearer(reader)
    )
    assert response.status_code == 403
    writer = mint_access_token(user=admin, app=None, scope="full")
    response = client.put(
        settings_url(org), '{"enabled": false}', content_type="application/json", **bearer(writer)
    )
    assert response.status_code == 200


# -- allowlist ---------------------------------------------------------------------------------
def test_allowlist_approve_diff_reapprove_and_remove(
    client_for, admin, org, foreign_app, other_admin
):
    client = client_for(admin)
    response = client.post(allowlist_url(org), {"client_id": foreign_app.client_id}, format="json")
    assert response.status_code == 200, response.content
    entry = response.json()
    assert set(entry) == {
        "client_id",
        "client_name",
        "approved_scopes",
        "current_scopes",
        "approved_at",
        "approved_by",
    }
    assert entry["approved_scopes"] == sorted(SCOPES) == entry["current_scopes"]
    assert entry["approved_by"] == str(admin.id)

    connected_app_set_scopes(
        access=Access(user=other_admin), app=foreign_app, scopes=["profile", "read:users"]
    )
    listed = client.get(allowlist_url(org)).json()
    assert listed["total"] == 1
    assert listed["data"][0]["approved_scopes"] == sorted(SCOPES)
    assert listed["data"][0]["current_scopes"] == ["profile", "read:users"]

    client.post(allowlist_url(org), {"client_id": foreign_app.client_id}, format="json")
    assert client.get(allowlist_url(org)).json()["data"][0]["approved_scopes"] == [
        "profile",
        "read:users",
    ]
    assert AuditEvent.objects.filter(action=AuditAction.ALLOWLIST_APPROVED).count() == 2

    assert client.delete(allowlist_url(org, foreign_app.client_id)).status_code == 204
    assert client.get(allowlist_url(org)).json() == {"data": [], "total": 0}
    assert client.delete(allowlist_url(org, foreign_app.client_id)).status_code == 404
    assert AuditEvent.objects.filter(action=AuditAction.ALLOWLIST_REMOVED).count() == 1


def test_allowlist_refuses_unknown_or_internal_foreign_apps(
    client_for, admin, org, make_app, other_admin
):
    client = client_for(admin)
    assert client.post(allowlist_url(org), {}, format="json").status_code == 400
    response = client.post(allowlist_url(org), {"client_id": "0" * 32}, format="json")
    assert response.status_code == 404
    internal = make_app(actor=other_admin, client_name="Internal elsewhere").app
    response = client.post(allowlist_url(org), {"client_id": internal.client_id}, format="json")
    assert response.status_code == 404


def test_other_tenant_cannot_touch_the_allowlist(client_for, admin, other_admin, org, foreign_app):
    controls.allowlist_approve(access=Access(user=admin), org=org, client_id=foreign_app.client_id)
    client = client_for(other_admin)
    assert client.get(allowlist_url(org)).status_code == 404
    assert client.delete(allowlist_url(org, foreign_app.client_id)).status_code == 404
    assert client.get(allowlist_url(OrganizationFactory())).status_code == 404


# -- authorized apps ---------------------------------------------------------------------------
def test_authorized_apps_list_and_revoke_for_the_whole_org(
    client_for, admin, member, other_admin, org, foreign_app, django_assert_max_num_queries
):
    second = UserFactory(organization=org, username="acme-second")
    authorization_grant(user=member, app=foreign_app, scopes=["profile"])
    authorization_grant(user=second, app=foreign_app, scopes=["email", "openid"])
    authorization_grant(user=other_admin, app=foreign_app, scopes=["profile"])
    tokens = [
        mint_access_token(user=user, app=foreign_app, scope="profile")
        for user in (member, second, other_admin)
    ]
    client = client_for(admin)
    with django_assert_max_num_queries(12):
        listed = client.get(authorized_url(org)).json()
    assert listed["total"] == 1
    row = listed["data"][0]
    assert row["client_id"] == foreign_app.client_id
    assert row["users"] == 2
    assert row["scopes"] == ["email", "openid", "profile"]
    assert row["owner_org_id"] == str(foreign_app.owner_org_id)
    assert "last_used_at" in row

    assert (
        client_for(other_admin).delete(authorized_url(org, foreign_app.client_id)).status_code
        == 404
    )
    assert client_for(member).delete(authorized_url(org, foreign_app.client_id)).status_code == 403

    assert client.delete(authorized_url(org, foreign_app.client_id)).status_code == 204
    assert [bearer_profile(raw).status_code for raw in tokens] == [401, 401, 200]
    assert not Authorization.objects.filter(
        user__organization=org, app=foreign_app, revoked_at__isnull=True
    ).exists()
    assert Authorization.objects.filter(user=other_admin, revoked_at__isnull=True).exists()
    event = AuditEvent.objects.get(action=AuditAction.AUTHORIZATIONS_REVOKED_FOR_ORG)
    assert event.details["users"] == 2 and event.details["access_tokens_deleted"] == 2
    assert client.get(authorized_url(org)).json()["total"] == 0
    assert client.delete(authorized_url(org, foreign_app.client_id)).status_code == 404
