"""Disabling and enabling a member (issue 16): `PATCH …/users/{userId}` `{"enabled": …}`,
root-org administrators only; a disabled user signs in nowhere and their tokens stop."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from oauth.principals import access_token_resolve
from tests.factories import AdminRoleFactory, PermissionGrantFactory, UserFactory
from tests.oauth.helpers import mint_access_token

pytestmark = pytest.mark.django_db


def user_url(org, user) -> str:
    return f"/accounts/api/organizations/{org.id}/users/{user.id}"


def test_an_admin_disables_a_member_whose_tokens_then_stop(client_for, admin, member, org):
    token = mint_access_token(user=member, app=None, scope="full")
    assert access_token_resolve(token) is not None
    response = client_for(admin).patch(user_url(org, member), {"enabled": False}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["enabled"] is False
    member.refresh_from_db()
    assert not member.is_active
    assert access_token_resolve(token) is None
    assert AuditEvent.objects.filter(action="user.disabled", target_id=str(member.id)).exists()
    again = client_for(admin).patch(user_url(org, member), {"enabled": True}, format="json")
    assert again.json()["enabled"] is True
    assert AuditEvent.objects.filter(action="user.enabled").exists()


def test_manage_users_alone_cannot_disable_anyone(client_for, member, org):
    PermissionGrantFactory(user=member, organization=org, permission="manage:users")
    target = UserFactory(organization=org, username="target")
    response = client_for(member).patch(user_url(org, target), {"enabled": False}, format="json")
    assert response.status_code == 403
    target.refresh_from_db()
    assert target.is_active


def test_an_admin_cannot_disable_themself_nor_the_last_enabled_admin(client_for, admin, org):
    refused = client_for(admin).patch(user_url(org, admin), {"enabled": False}, format="json")
    assert refused.status_code == 400
    second = UserFactory(organization=org, username="second-admin")
    AdminRoleFactory(user=second, organization=org)
    assert (
        client_for(second)
        .patch(user_url(org, admin), {"enabled": False}, format="json")
        .status_code
        == 200
    )
    admin.refresh_from_db()
    assert not admin.is_active
    last = client_for(second).patch(user_url(org, second), {"enabled": False}, format="json")
    assert last.status_code == 400


def test_another_tenant_cannot_touch_a_member(client_for, other_admin, member, org):
    response = client_for(other_admin).patch(
        user_url(org, member), {"enabled": False}, format="json"
    )
    assert response.status_code in (403, 404)
    member.refresh_from_db()
    assert member.is_active


def test_bad_input_is_a_400(client_for, admin, member, org):
    response = client_for(admin).patch(user_url(org, member), {"enabled": "maybe"}, format="json")
    assert response.status_code == 400
    assert client_for(admin).patch(user_url(org, member), {}, format="json").status_code == 400


def test_the_portal_disables_after_asking_and_enables(admin, member, org):
    from django.test import Client

    client = Client()
    client.force_login(admin)
    page = f"/access-management/organizations/{org.id}/users/{member.id}/"
    assert "Disable user" in client.get(page).content.decode()
    confirm = client.get(page + "enabled").content.decode()
    assert "signed out everywhere at once" in confirm
    member.refresh_from_db()
    assert member.is_active  # asking changed nothing
    assert client.post(page + "enabled", {"enabled": "false"}).status_code == 302
    member.refresh_from_db()
    assert not member.is_active
    shown = client.get(page).content.decode()
    assert "Enable user" in shown and "Disabled" in shown
    client.post(page + "enabled", {"enabled": "true"})
    member.refresh_from_db()
    assert member.is_active


def test_the_portal_offers_nothing_to_a_user_manager(member, org):
    from django.test import Client

    PermissionGrantFactory(user=member, organization=org, permission="manage:users")
    PermissionGrantFactory(user=member, organization=org, permission="read:users")
    target = UserFactory(organization=org, username="portal-target")
    client = Client()
    client.force_login(member)
    page = f"/access-management/organizations/{org.id}/users/{target.id}/"
    assert "Disable user" not in client.get(page).content.decode()
    client.post(page + "enabled", {"enabled": "false"})
    target.refresh_from_db()
    assert target.is_active
