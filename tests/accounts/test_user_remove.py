"""Removing a member (issue 16), as Keycloak's and Auth0's "Delete user":
`DELETE …/users/{userId}` → 204 and the portal's "Remove user". Everything that was theirs
goes at once (sessions, tokens, authorizations, permissions, sign-in factors and links); the
apps they created stay with the organization that owns them; the audit trail keeps the
event, with the username, and every earlier event."""

from __future__ import annotations

import base64

import pytest
from django.test import Client

from accounts.access import Access
from accounts.models import FederatedIdentity, PermissionGrant, PortalSession, RoleGrant, User
from accounts.services import (
    CANNOT_REMOVE_YOURSELF,
    LAST_ACTIVE_ADMINISTRATOR,
    user_remove,
)
from audit.models import AuditEvent
from connected_apps.models import Authorization, ConnectedApp
from oauth.models import AccessToken
from tests.accounts.member_admin_kit import (
    business_group_admin,
    own_behalf_app,
    portal_url,
    signed_in,
    token_headers,
    user_app,
    user_url,
    users_manager,
)
from tests.factories import (
    AdminRoleFactory,
    IdentityProviderFactory,
    PermissionGrantFactory,
    UserFactory,
)
from tests.oauth.helpers import bearer, mint_access_token

pytestmark = pytest.mark.django_db

PROFILE_URL = "/accounts/api/profile"
INTROSPECT_URL = "/accounts/api/v2/oauth2/introspect"


def introspect(app_with_secret, raw: str) -> dict:
    credentials = f"{app_with_secret.app.client_id}:{app_with_secret.client_secret}"
    response = Client().post(
        INTROSPECT_URL,
        {"token": raw},
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(credentials.encode()).decode(),
    )
    assert response.status_code == 200, response.content
    return response.json()


def test_a_removed_member_is_gone_and_their_tokens_stop_on_the_next_request(
    client_for, admin, member, org, code_app
):
    PermissionGrantFactory(user=member, organization=org, permission="read:users")
    FederatedIdentity.objects.create(
        provider=IdentityProviderFactory(organization=org), user=member, subject="m"
    )
    Authorization.objects.create(user=member, app=code_app.app, scopes=["profile"])
    platform = mint_access_token(user=member, app=None, scope="full")
    through_app = mint_access_token(user=member, app=code_app.app, scope="profile")
    portal = signed_in(member)
    for raw in (platform, through_app):  # warm every worker's memory of the tokens
        assert Client().get(PROFILE_URL, **bearer(raw)).status_code == 200
        assert introspect(code_app, raw)["active"] is True
    assert portal.get(PROFILE_URL).status_code == 200
    AuditEvent.objects.create(action="user.profile_changed", actor_user=member, target_id="x")

    response = client_for(admin).delete(user_url(org, member))
    assert response.status_code == 204, response.content

    for raw in (platform, through_app):
        refused = Client().get(PROFILE_URL, **bearer(raw))
        assert refused.status_code == 401
        assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
        assert introspect(code_app, raw) == {"active": False}
    assert portal.get(PROFILE_URL).status_code in (401, 403)
    assert not User.objects.filter(id=member.id).exists()
    for model in (PermissionGrant, RoleGrant, PortalSession, Authorization, AccessToken):
        assert not model.objects.filter(user_id=member.id).exists(), model
    assert not FederatedIdentity.objects.filter(user_id=member.id).exists()
    event = AuditEvent.objects.get(action="user.removed")
    assert (event.target_id, event.actor_user_id) == (str(member.id), admin.id)
    assert event.details["username"] == member.username
    assert AuditEvent.objects.filter(action="user.profile_changed").exists()  # history stays
    assert client_for(admin).delete(user_url(org, member)).status_code == 404


def test_the_apps_a_removed_member_created_stay_with_the_organization(
    client_for, admin, org, make_app
):
    """As the confirmation page says: the apps stay, but an own-behalf app acts with its
    creator's profile (SPEC §3), so its tokens are refused once the creator is gone."""
    developer = UserFactory(organization=org, username="developer")
    AdminRoleFactory(user=developer, organization=org)
    app = make_app(actor=developer).app
    robot = own_behalf_app(developer, org, ["read:users"])
    robot_token = bearer(mint_access_token(user=None, app=robot, scope="read:users"))
    users = f"/accounts/api/organizations/{org.id}/users"
    assert Client().get(users, **robot_token).status_code == 200
    assert client_for(admin).delete(user_url(org, developer)).status_code == 204
    for created in (app, robot):
        kept = ConnectedApp.objects.get(pk=created.pk)
        assert kept.owner_org_id == org.id and kept.user_id is None
    assert Client().get(users, **robot_token).status_code == 401


def test_nobody_removes_themself(client_for, admin, org):
    response = client_for(admin).delete(user_url(org, admin))
    assert response.status_code == 400
    assert response.json()["message"] == CANNOT_REMOVE_YOURSELF
    assert User.objects.filter(id=admin.id).exists()


def test_the_last_enabled_administrator_stays(admin, org):
    """A second administrator, disabled (whose sessions and tokens no longer work), reaching
    the service anyway must not leave the organization without an enabled administrator."""
    disabled = UserFactory(organization=org, username="disabled-admin", is_active=False)
    AdminRoleFactory(user=disabled, organization=org)
    with pytest.raises(Exception) as refused:
        user_remove(access=Access(user=disabled), user=admin)
    assert LAST_ACTIVE_ADMINISTRATOR in str(refused.value)
    assert User.objects.filter(id=admin.id).exists()


def test_two_administrators_may_remove_each_other_one_at_a_time(client_for, admin, org):
    second = UserFactory(organization=org, username="second-admin")
    AdminRoleFactory(user=second, organization=org)
    assert client_for(second).delete(user_url(org, admin)).status_code == 204
    assert RoleGrant.objects.filter(organization=org).count() == 1


# -- who may not --------------------------------------------------------------------------------
def test_a_users_manager_cannot_remove_anyone(client_for, member, org):
    assert client_for(users_manager(org)).delete(user_url(org, member)).status_code == 403
    assert User.objects.filter(id=member.id).exists()


def test_a_business_group_admin_cannot_remove_anyone(client_for, admin, member, org):
    team, team_admin = business_group_admin(org)
    team_member = UserFactory(organization=org, username="team-member")
    for target, where in ((admin, org), (admin, team), (team_member, team), (member, team)):
        response = client_for(team_admin).delete(user_url(where, target))
        assert response.status_code in (403, 404), (target, where, response.status_code)
        assert User.objects.filter(id=target.id).exists()


def test_another_tenant_cannot_reach_a_member(client_for, other_admin, member, org):
    assert client_for(other_admin).delete(user_url(org, member)).status_code in (403, 404)
    assert User.objects.filter(id=member.id).exists()


def test_tokens_without_full_access_cannot_remove(admin, member, org):
    app = user_app(admin, org, ["read:users", "manage:users"])
    for scope in ("read:users", "read:users manage:users"):
        headers = token_headers(user=admin, app=app, scope=scope)
        response = Client().delete(user_url(org, member), **headers)
        assert response.status_code == 403, (scope, response.content)
        assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    robot = own_behalf_app(admin, org, ["read:users", "manage:users"])
    headers = token_headers(user=None, app=robot, scope="read:users manage:users")
    assert Client().delete(user_url(org, member), **headers).status_code == 403
    assert User.objects.filter(id=member.id).exists()
    headers = token_headers(user=admin, app=None, scope="full")  # the admin's platform token
    assert Client().delete(user_url(org, member), **headers).status_code == 204


# -- the portal -----------------------------------------------------------------------------------
def test_the_portal_asks_what_goes_then_removes(admin, member, org):
    browser = signed_in(admin)
    page = portal_url(org, member)
    shown = browser.get(page).content.decode()
    assert "Remove user" in shown and "button-danger" in shown
    confirm = browser.get(page + "remove").content.decode()
    for consequence in ("sessions", "tokens", "authorizations", "permissions", "stay with"):
        assert consequence in confirm, consequence
    assert User.objects.filter(id=member.id).exists()  # asking changed nothing
    removed = browser.post(page + "remove", follow=True)
    assert removed.redirect_chain[-1][0] == f"/access-management/organizations/{org.id}/users/"
    assert f"{member.username} was removed" in removed.content.decode()
    assert not User.objects.filter(id=member.id).exists()


def test_the_portal_refuses_removing_yourself_with_a_reason(admin, org):
    browser = signed_in(admin)
    page = portal_url(org, admin)
    assert ">Remove user<" not in browser.get(page).content.decode()
    refused = browser.post(page + "remove", follow=True)
    assert CANNOT_REMOVE_YOURSELF in refused.content.decode()
    assert User.objects.filter(id=admin.id).exists()


def test_the_portal_offers_nothing_to_a_users_manager(member, org):
    browser = signed_in(users_manager(org))
    page = portal_url(org, member)
    assert "Remove user" not in browser.get(page).content.decode()
    assert browser.get(page + "remove").status_code == 403
    assert browser.post(page + "remove").status_code == 403
    assert User.objects.filter(id=member.id).exists()
