"""The caller's own authorized apps (SPEC §4): `GET /accounts/api/users/me/connectedApplications`
and `DELETE …/{client_id}` — by session or bearer token, only ever the caller's own."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from audit.models import AuditAction, AuditEvent
from connected_apps.api_me import APP_TOKEN_REFUSED
from connected_apps.models import Authorization
from oauth.models import AccessToken, RefreshToken
from oauth.principals import access_token_resolve
from oauth.services import authorization_grant, authorization_revoke
from tests.factories import UserFactory
from tests.oauth.helpers import bearer, mint_access_token

pytestmark = pytest.mark.django_db

MY_APPS = "/accounts/api/users/me/connectedApplications"
PROFILE = "/accounts/api/profile"


def session(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def everyone_app(make_app):
    """An app of Acme that any platform user may authorize."""
    return make_app(client_name="Public Tool", audience="everyone", website_url="https://t.example")


# -- list --------------------------------------------------------------------------------------
def test_list_shows_live_authorizations_with_their_fields(member, code_app, everyone_app):
    first = authorization_grant(user=member, app=code_app.app, scopes=["openid", "profile"])
    authorization_grant(user=member, app=everyone_app.app, scopes=["email"])
    mint_access_token(user=member, app=code_app.app, scope="openid profile")

    response = session(member).get(MY_APPS)

    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 2
    by_id = {item["client_id"]: item for item in body["data"]}
    item = by_id[code_app.app.client_id]
    assert set(item) == {
        "client_id",
        "client_name",
        "website_url",
        "owner_org_id",
        "scopes",
        "authorized_at",
        "last_used_at",
    }
    assert item["client_name"] == "Test App"
    assert item["owner_org_id"] == str(code_app.app.owner_org_id)
    assert item["scopes"] == ["openid", "profile"]
    assert item["authorized_at"].startswith(first.created_at.date().isoformat())
    assert item["last_used_at"] is not None  # the token just issued for this user
    other = by_id[everyone_app.app.client_id]
    assert other["website_url"] == "https://t.example"
    assert other["last_used_at"] is None


def test_list_leaves_out_revoked_authorizations_and_other_users(member, admin, code_app):
    authorization = authorization_grant(user=member, app=code_app.app, scopes=["openid"])
    authorization_grant(user=admin, app=code_app.app, scopes=["openid"])
    authorization_revoke(actor=member, authorization=authorization)

    assert session(member).get(MY_APPS).json() == {"data": [], "total": 0}
    assert session(admin).get(MY_APPS).json()["total"] == 1


def test_list_pages_with_offset_and_limit(member, make_app):
    for n in range(3):
        app = make_app(client_name=f"App {n}").app
        authorization_grant(user=member, app=app, scopes=["openid"])
    body = session(member).get(MY_APPS, {"offset": 1, "limit": 1}).json()
    assert body["total"] == 3
    assert len(body["data"]) == 1
    assert session(member).get(MY_APPS, {"limit": "x"}).status_code == 400


def test_list_shows_an_other_tenants_app_the_user_authorized(other_admin, everyone_app):
    authorization_grant(user=other_admin, app=everyone_app.app, scopes=["openid"])
    body = session(other_admin).get(MY_APPS).json()
    assert [item["client_id"] for item in body["data"]] == [everyone_app.app.client_id]


def test_list_needs_credentials(client):
    response = client.get(MY_APPS)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="doorman"'


# -- bearer tokens -----------------------------------------------------------------------------
@pytest.mark.parametrize("scope", ["profile", "read:full", "full"])
def test_a_token_with_profile_read_full_or_full_may_list(member, code_app, scope):
    authorization_grant(user=member, app=code_app.app, scopes=["openid"])
    raw = mint_access_token(user=member, app=None, scope=scope)
    response = Client().get(MY_APPS, **bearer(raw))
    assert response.status_code == 200
    assert response.json()["total"] == 1


def test_a_token_without_those_scopes_may_not_list(member, code_app):
    raw = mint_access_token(user=member, app=code_app.app, scope="openid email")
    response = Client().get(MY_APPS, **bearer(raw))
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in response["WWW-Authenticate"]


@pytest.mark.parametrize("scope", ["profile", "read:full"])
def test_only_full_may_revoke(member, code_app, scope):
    authorization_grant(user=member, app=code_app.app, scopes=["openid"])
    raw = mint_access_token(user=member, app=None, scope=scope)
    response = Client().delete(f"{MY_APPS}/{code_app.app.client_id}", **bearer(raw))
    assert response.status_code == 403
    assert Authorization.objects.get(user=member).revoked_at is None


def test_an_app_acting_on_its_own_behalf_has_no_authorized_apps(admin, cc_app, code_app):
    authorization_grant(user=admin, app=code_app.app, scopes=["openid"])  # its creator's
    raw = mint_access_token(user=None, app=cc_app.app, scope="profile")
    response = Client().get(MY_APPS, **bearer(raw))
    assert response.status_code == 403
    assert response.json()["message"] == APP_TOKEN_REFUSED


# -- revoke ------------------------------------------------------------------------------------
def test_revoke_kills_the_apps_tokens_at_once(member, code_app):
    """The app's token works, the user revokes it with their own platform token (`full`),
    and the app's very next request is refused."""
    app = code_app.app
    authorization_grant(user=member, app=app, scopes=["openid", "profile", "offline_access"])
    app_token = mint_access_token(user=member, app=app, scope="openid profile")
    RefreshToken.objects.create(
        user=member,
        application=app,
        token="refresh-for-test",
        access_token=AccessToken.objects.get(user=member, application=app),
    )
    assert Client().get(PROFILE, **bearer(app_token)).status_code == 200
    platform_token = mint_access_token(user=member, app=None, scope="full")

    response = Client().delete(f"{MY_APPS}/{app.client_id}", **bearer(platform_token))

    assert response.status_code == 204
    refused = Client().get(PROFILE, **bearer(app_token))
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused["WWW-Authenticate"]
    assert not AccessToken.objects.filter(user=member, application=app).exists()
    assert RefreshToken.objects.get(user=member, application=app).revoked is not None
    assert Authorization.objects.get(user=member, app=app).revoked_at is not None
    event = AuditEvent.objects.get(action=AuditAction.AUTHORIZATION_REVOKED)
    assert event.actor_user == member
    # The platform token is the user's own: it keeps working.
    assert Client().get(PROFILE, **bearer(platform_token)).status_code == 200


def test_revoke_by_session_needs_csrf(member, code_app):
    authorization_grant(user=member, app=code_app.app, scopes=["openid"])
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    response = client.delete(f"{MY_APPS}/{code_app.app.client_id}")
    assert response.status_code == 403
    assert Authorization.objects.get(user=member).revoked_at is None


def test_revoke_by_session(member, code_app):
    authorization_grant(user=member, app=code_app.app, scopes=["openid"])
    response = session(member).delete(f"{MY_APPS}/{code_app.app.client_id}")
    assert response.status_code == 204
    assert session(member).get(MY_APPS).json()["total"] == 0
    # Revoked already: nothing live to revoke.
    assert session(member).delete(f"{MY_APPS}/{code_app.app.client_id}").status_code == 404


def test_another_users_authorization_is_neither_visible_nor_revocable(member, admin, code_app):
    authorization_grant(user=member, app=code_app.app, scopes=["openid"])
    token = mint_access_token(user=member, app=code_app.app, scope="openid")
    colleague = UserFactory(organization=member.organization)

    assert session(colleague).get(MY_APPS).json()["total"] == 0
    response = session(colleague).delete(f"{MY_APPS}/{code_app.app.client_id}")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    # Not even the org admin through this endpoint: it only ever addresses the caller's own.
    assert session(admin).delete(f"{MY_APPS}/{code_app.app.client_id}").status_code == 404
    assert Authorization.objects.get(user=member).revoked_at is None
    assert AccessToken.objects.filter(user=member, application=code_app.app).exists()
    assert access_token_resolve(token) is not None


@pytest.mark.parametrize("client_id", ["0" * 32, "not-an-app", "x" * 300])
def test_revoke_of_an_unknown_app_is_404(member, client_id):
    assert session(member).delete(f"{MY_APPS}/{client_id}").status_code == 404


def test_last_used_prefers_the_authorizations_own_stamp(member, code_app):
    authorization = authorization_grant(user=member, app=code_app.app, scopes=["openid"])
    stamp = timezone.now() - timedelta(days=3)
    Authorization.objects.filter(pk=authorization.pk).update(last_used_at=stamp)
    item = session(member).get(MY_APPS).json()["data"][0]
    assert item["last_used_at"].startswith(stamp.date().isoformat())
