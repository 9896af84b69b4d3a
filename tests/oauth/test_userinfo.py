"""OIDC userinfo (SPEC §4, OIDC Core §5.3): claims per the token's effective scopes; RFC 6750
errors, and a token dies here on the request after its app is disabled or its consent revoked."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.access import Access
from connected_apps.models import Authorization
from connected_apps.services import connected_app_set_scopes, connected_app_update
from oauth.services import authorization_revoke
from tests.oauth.code_flow import USERINFO_URL, tokens_for
from tests.oauth.helpers import bearer, mint_access_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(member):
    client = Client()
    client.force_login(member)
    return client


def assert_invalid_token(response):
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "invalid_token"
    assert response["WWW-Authenticate"] == 'Bearer realm="doorman", error="invalid_token"'


def test_get_returns_the_claims_of_the_granted_scopes(member, code_app):
    raw = mint_access_token(user=member, app=code_app.app, scope="openid profile")
    response = Client().get(USERINFO_URL, **bearer(raw))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    assert response.json() == {
        "sub": str(member.id),
        "username": member.username,
        "preferred_username": member.username,
        "org_id": str(member.organization_id),
        "name": "Ada Lovelace",
        "given_name": "Ada",
        "family_name": "Lovelace",
    }


def test_post_works_too(member, code_app):
    raw = mint_access_token(user=member, app=code_app.app, scope="openid")
    response = Client().post(USERINFO_URL, **bearer(raw))
    assert response.status_code == 200
    assert response.json() == {
        "sub": str(member.id),
        "username": member.username,
        "preferred_username": member.username,
        "org_id": str(member.organization_id),
    }


def test_email_only_with_the_email_scope(member, code_app):
    with_email = mint_access_token(user=member, app=code_app.app, scope="openid email")
    without = mint_access_token(user=member, app=code_app.app, scope="openid profile")
    assert Client().get(USERINFO_URL, **bearer(with_email)).json()["email"] == member.email
    assert "email" not in Client().get(USERINFO_URL, **bearer(without)).json()


def test_a_token_from_the_code_flow_works(signed_in, member, code_app):
    tokens = tokens_for(signed_in, code_app, scope="openid email")
    response = Client().get(USERINFO_URL, **bearer(tokens["access_token"]))
    assert response.status_code == 200
    assert response.json()["sub"] == str(member.id)
    assert response.json()["email"] == member.email


def test_no_token_is_401_with_a_bare_challenge():
    response = Client().get(USERINFO_URL)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="doorman"'
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize("raw", ["not-a-token", "x" * 600, "eyJhbGciOiJub25lIn0.e30."])
def test_an_unknown_token_is_401_invalid_token(raw):
    assert_invalid_token(Client().get(USERINFO_URL, HTTP_AUTHORIZATION=f"Bearer {raw}"))


def test_an_expired_token_is_401(member, code_app):
    raw = mint_access_token(user=member, app=code_app.app, scope="openid", expires_in=-1)
    assert_invalid_token(Client().get(USERINFO_URL, **bearer(raw)))


def test_a_token_without_openid_is_403_insufficient_scope(member, code_app):
    raw = mint_access_token(user=member, app=code_app.app, scope="profile")
    response = Client().get(USERINFO_URL, **bearer(raw))
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in response["WWW-Authenticate"]


def test_a_platform_token_is_not_an_openid_token(member):
    raw = mint_access_token(user=member, app=None, scope="full")
    assert Client().get(USERINFO_URL, **bearer(raw)).status_code == 403


def test_the_token_dies_right_after_the_app_is_disabled(member, admin, code_app):
    raw = mint_access_token(user=member, app=code_app.app, scope="openid")
    assert Client().get(USERINFO_URL, **bearer(raw)).status_code == 200
    connected_app_update(access=Access(user=admin), app=code_app.app, changes={"enabled": False})
    assert_invalid_token(Client().get(USERINFO_URL, **bearer(raw)))


def test_the_token_dies_right_after_the_consent_is_revoked(signed_in, member, code_app):
    tokens = tokens_for(signed_in, code_app)
    assert Client().get(USERINFO_URL, **bearer(tokens["access_token"])).status_code == 200
    authorization = Authorization.objects.get(user=member, app=code_app.app)
    authorization_revoke(actor=member, authorization=authorization)
    assert_invalid_token(Client().get(USERINFO_URL, **bearer(tokens["access_token"])))


def test_claims_follow_the_scopes_the_app_still_holds(member, admin, code_app):
    raw = mint_access_token(user=member, app=code_app.app, scope="openid email")
    connected_app_set_scopes(access=Access(user=admin), app=code_app.app, scopes=["openid"])
    body = Client().get(USERINFO_URL, **bearer(raw)).json()
    assert body["sub"] == str(member.id)
    assert "email" not in body


def test_openid_removed_from_the_app_is_insufficient_scope(member, admin, code_app):
    raw = mint_access_token(user=member, app=code_app.app, scope="openid email")
    connected_app_set_scopes(access=Access(user=admin), app=code_app.app, scopes=["email"])
    assert Client().get(USERINFO_URL, **bearer(raw)).status_code == 403


def test_an_inactive_user_is_401(member, code_app):
    raw = mint_access_token(user=member, app=code_app.app, scope="openid")
    member.is_active = False
    member.save(update_fields=["is_active"])
    assert_invalid_token(Client().get(USERINFO_URL, **bearer(raw)))


def test_a_token_in_the_query_string_is_refused(member, code_app):
    raw = mint_access_token(user=member, app=code_app.app, scope="openid")
    response = Client().get(USERINFO_URL, {"access_token": raw})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_a_token_in_a_form_body_is_accepted(member, code_app):
    raw = mint_access_token(user=member, app=code_app.app, scope="openid")
    response = Client().post(USERINFO_URL, {"access_token": raw})
    assert response.status_code == 200  # RFC 6750 §2.2
