"""RFC 7662 introspection (SPEC §4): client-authenticated, JSON or form; `{"active": false}`
for anything that would not work as a token right now; the contract's fields when active;
nothing about another tenant's tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.access import Access
from audit.models import AuditAction, AuditEvent
from connected_apps.services import connected_app_update
from oauth.models import AccessToken, RefreshToken
from tests.factories import DEFAULT_PASSWORD
from tests.oauth.tokenkit import (
    INTROSPECT_URL,
    LOGIN_URL,
    assert_oauth_error,
    basic,
    client_credentials,
    isolated_throttle,  # noqa: F401 (autouse fixture)
    post_form,
    post_json,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def password_app(make_app):
    return make_app(
        client_name="Password App",
        grant_types=["password", "refresh_token"],
        redirect_uris=[],
        scopes=["profile", "email", "view:environment"],
    )


@pytest.fixture
def user_tokens(password_app, member) -> dict:
    return post_form(
        {
            "grant_type": "password",
            "username": member.username,
            "password": DEFAULT_PASSWORD,
            "client_id": password_app.app.client_id,
            "client_secret": password_app.client_secret,
        }
    ).json()


def introspect(app_with_secret, token: str, **extra):
    return post_form(
        {
            "token": token,
            "client_id": app_with_secret.app.client_id,
            "client_secret": app_with_secret.client_secret,
            **extra,
        },
        url=INTROSPECT_URL,
    )


def test_active_user_token(password_app, user_tokens, member, org):
    response = introspect(password_app, user_tokens["access_token"])
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    token = AccessToken.objects.get()
    assert body == {
        "active": True,
        "scope": "email profile view:environment",
        "client_id": password_app.app.client_id,
        "username": member.username,
        "sub": str(member.pk),
        "token_type": "Bearer",
        "exp": int(token.expires.timestamp()),
        "iat": int(token.created.timestamp()),
        "org_id": str(org.id),
    }


def test_active_app_token(cc_app, admin, org):
    raw = post_form(client_credentials(cc_app)).json()["access_token"]
    body = introspect(cc_app, raw).json()
    assert body["active"] is True
    assert body["sub"] == cc_app.app.client_id
    assert body["client_id"] == cc_app.app.client_id
    assert body["org_id"] == str(org.id)
    assert body["username"] == admin.username  # the creator, whose profile it reads
    assert body["token_type"] == "Bearer"


def test_json_body_and_basic_auth(password_app, user_tokens):
    response = post_json(
        {"token": user_tokens["access_token"]},
        url=INTROSPECT_URL,
        HTTP_AUTHORIZATION=basic(password_app.app.client_id, password_app.client_secret),
    )
    assert response.status_code == 200, response.content
    assert response.json()["active"] is True


def test_refresh_token(password_app, user_tokens, member):
    body = introspect(password_app, user_tokens["refresh_token"]).json()
    assert body["active"] is True
    assert body["token_type"] == "refresh_token"
    assert body["sub"] == str(member.pk)
    rt = RefreshToken.objects.get()
    assert body["exp"] == int((rt.created + timedelta(days=90)).timestamp())
    hinted = introspect(
        password_app, user_tokens["refresh_token"], token_type_hint="refresh_token"
    ).json()
    assert hinted == body


def test_used_refresh_token_is_inactive(password_app, user_tokens):
    post_form(
        {
            "grant_type": "refresh_token",
            "refresh_token": user_tokens["refresh_token"],
            "client_id": password_app.app.client_id,
            "client_secret": password_app.client_secret,
        }
    )
    assert introspect(password_app, user_tokens["refresh_token"]).json() == {"active": False}


@pytest.mark.parametrize("token", ["unknown", "x" * 600, " "])
def test_unknown_token_is_inactive(password_app, token):
    assert introspect(password_app, token).json() == {"active": False}


def test_expired_token_is_inactive(password_app, user_tokens):
    AccessToken.objects.update(expires=timezone.now() - timedelta(seconds=1))
    assert introspect(password_app, user_tokens["access_token"]).json() == {"active": False}


def test_disabled_app_makes_its_tokens_inactive(password_app, user_tokens, code_app, admin):
    connected_app_update(
        access=Access(user=admin), app=password_app.app, changes={"enabled": False}
    )
    # Asked by another app of the same org (the disabled one cannot authenticate).
    assert introspect(code_app, user_tokens["access_token"]).json() == {"active": False}


def test_scope_is_the_effective_scope(password_app, user_tokens, admin):
    connected_app_update(
        access=Access(user=admin), app=password_app.app, changes={"scopes": ["profile"]}
    )
    assert introspect(password_app, user_tokens["access_token"]).json()["scope"] == "profile"
    connected_app_update(
        access=Access(user=admin), app=password_app.app, changes={"scopes": ["read:users"]}
    )
    assert introspect(password_app, user_tokens["access_token"]).json() == {"active": False}


def test_deactivated_user_makes_the_token_inactive(password_app, user_tokens, member):
    member.is_active = False
    member.save(update_fields=["is_active"])
    assert introspect(password_app, user_tokens["access_token"]).json() == {"active": False}


def test_another_app_of_the_same_org_may_introspect(code_app, user_tokens):
    assert introspect(code_app, user_tokens["access_token"]).json()["active"] is True


def test_another_orgs_app_learns_nothing(user_tokens, make_app, other_admin):
    foreign = make_app(actor=other_admin, client_name="Foreign")
    assert introspect(foreign, user_tokens["access_token"]).json() == {"active": False}
    assert introspect(foreign, user_tokens["refresh_token"]).json() == {"active": False}


def test_platform_token(code_app, member, org, make_app, other_admin):
    raw = post_json(
        {"username": member.username, "password": DEFAULT_PASSWORD}, url=LOGIN_URL
    ).json()["access_token"]
    body = introspect(code_app, raw).json()
    assert body["active"] is True
    assert body["scope"] == "full"
    assert body["sub"] == str(member.pk)
    assert body["org_id"] == str(org.id)
    assert "client_id" not in body
    foreign = make_app(actor=other_admin, client_name="Foreign")
    assert introspect(foreign, raw).json() == {"active": False}


# -- client authentication and request shape -------------------------------------------------------
def test_wrong_secret_is_401_invalid_client(password_app, user_tokens):
    response = introspect(password_app, user_tokens["access_token"], client_secret="wrong")
    assert_oauth_error(response, "invalid_client", 401)
    assert response["WWW-Authenticate"] == 'Basic realm="doorman"'
    refused = AuditEvent.objects.get(action=AuditAction.TOKEN_REFUSED)
    assert refused.details == {"endpoint": "introspection", "error": "invalid_client"}


def test_no_client_auth_is_401(user_tokens):
    response = post_form({"token": user_tokens["access_token"]}, url=INTROSPECT_URL)
    assert_oauth_error(response, "invalid_client", 401)


def test_a_bearer_token_is_not_client_authentication(user_tokens):
    response = post_form(
        {"token": user_tokens["access_token"]},
        url=INTROSPECT_URL,
        HTTP_AUTHORIZATION=f"Bearer {user_tokens['access_token']}",
    )
    assert_oauth_error(response, "invalid_client", 401)


def test_missing_token_is_invalid_request(password_app):
    assert_oauth_error(introspect(password_app, ""), "invalid_request")


def test_get_is_405_and_query_strings_are_refused(password_app, user_tokens):
    response = Client().get(INTROSPECT_URL, {"token": user_tokens["access_token"]})
    assert_oauth_error(response, "invalid_request", 405)
    response = post_form(
        {
            "client_id": password_app.app.client_id,
            "client_secret": password_app.client_secret,
        },
        url=f"{INTROSPECT_URL}?token={user_tokens['access_token']}",
    )
    assert_oauth_error(response, "invalid_request")


def test_malformed_json_is_invalid_request():
    response = Client().post(INTROSPECT_URL, b"{", content_type="application/json")
    assert_oauth_error(response, "invalid_request")
