"""RFC 7009 revocation (SPEC §4): client-authenticated, JSON or form; a refresh token takes
its whole family (and the family's access tokens) with it; unknown tokens and other clients'
tokens are a 200 that changes nothing."""

from __future__ import annotations

import pytest
from django.test import Client

from audit.models import AuditAction, AuditEvent
from oauth.models import AccessToken, RefreshToken
from tests.factories import DEFAULT_PASSWORD
from tests.oauth.code_flow import tokens_for
from tests.oauth.tokenkit import (
    REVOKE_URL,
    assert_oauth_error,
    basic,
    bearer_profile,
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
        scopes=["profile", "view:environment"],
    )


def password_tokens(app_with_secret, user) -> dict:
    return post_form(
        {
            "grant_type": "password",
            "username": user.username,
            "password": DEFAULT_PASSWORD,
            "client_id": app_with_secret.app.client_id,
            "client_secret": app_with_secret.client_secret,
        }
    ).json()


@pytest.fixture
def tokens(password_app, member) -> dict:
    return password_tokens(password_app, member)


def refresh(app_with_secret, refresh_token: str):
    return post_form(
        {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": app_with_secret.app.client_id,
            "client_secret": app_with_secret.client_secret,
        }
    )


def revoke(app_with_secret, token: str, **extra):
    return post_form(
        {
            "token": token,
            "client_id": app_with_secret.app.client_id,
            "client_secret": app_with_secret.client_secret,
            **extra,
        },
        url=REVOKE_URL,
    )


def test_revoking_a_refresh_token_revokes_its_family(password_app, tokens, member):
    second = refresh(password_app, tokens["refresh_token"]).json()
    response = revoke(password_app, second["refresh_token"], token_type_hint="refresh_token")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["Cache-Control"] == "no-store"
    assert bearer_profile(second["access_token"]).status_code == 401
    assert_oauth_error(refresh(password_app, second["refresh_token"]), "invalid_grant")
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()
    event = AuditEvent.objects.get(action=AuditAction.TOKEN_REVOKED)
    assert event.details == {"reason": "revocation_request", "token_type": "refresh_token"}
    assert event.actor_user == member
    assert second["refresh_token"] not in str(event.__dict__)


def test_revoking_a_code_flow_refresh_token_kills_the_codes_access_token(code_app, member):
    browser = Client()
    browser.force_login(member)
    issued = tokens_for(browser, code_app, scope="openid profile offline_access")
    assert revoke(code_app, issued["refresh_token"]).status_code == 200
    assert bearer_profile(issued["access_token"]).status_code == 401


def test_revoking_an_access_token(password_app, tokens):
    response = revoke(password_app, tokens["access_token"], token_type_hint="access_token")
    assert response.status_code == 200
    assert bearer_profile(tokens["access_token"]).status_code == 401
    assert not AccessToken.objects.exists()


def test_the_hint_is_only_a_hint(password_app, tokens):
    response = revoke(password_app, tokens["refresh_token"], token_type_hint="access_token")
    assert response.status_code == 200
    assert bearer_profile(tokens["access_token"]).status_code == 401


def test_json_body_and_basic_auth(password_app, tokens):
    response = post_json(
        {"token": tokens["refresh_token"]},
        url=REVOKE_URL,
        HTTP_AUTHORIZATION=basic(password_app.app.client_id, password_app.client_secret),
    )
    assert response.status_code == 200, response.content
    assert bearer_profile(tokens["access_token"]).status_code == 401


def test_unknown_token_is_200(password_app):
    response = revoke(password_app, "no-such-token")
    assert response.status_code == 200
    assert response.json() == {}
    assert not AuditEvent.objects.filter(action=AuditAction.TOKEN_REVOKED).exists()


def test_another_clients_token_is_200_and_untouched(password_app, tokens, make_app):
    other = make_app(client_name="Other", grant_types=["password"], redirect_uris=[])
    assert revoke(other, tokens["access_token"]).status_code == 200
    assert revoke(other, tokens["refresh_token"]).status_code == 200
    assert bearer_profile(tokens["access_token"]).status_code == 200
    assert refresh(password_app, tokens["refresh_token"]).status_code == 200


def test_revoking_twice_is_fine(password_app, tokens):
    assert revoke(password_app, tokens["refresh_token"]).status_code == 200
    assert revoke(password_app, tokens["refresh_token"]).status_code == 200
    assert AuditEvent.objects.filter(action=AuditAction.TOKEN_REVOKED).count() == 1


def test_wrong_secret_is_401_invalid_client(password_app, tokens):
    response = revoke(password_app, tokens["access_token"], client_secret="wrong")
    assert_oauth_error(response, "invalid_client", 401)
    assert response["WWW-Authenticate"] == 'Basic realm="doorman"'
    assert bearer_profile(tokens["access_token"]).status_code == 200
    refused = AuditEvent.objects.get(action=AuditAction.TOKEN_REFUSED)
    assert refused.details == {"endpoint": "revocation", "error": "invalid_client"}
    assert refused.actor_client_id == password_app.app.client_id


def test_missing_token_is_invalid_request(password_app):
    response = post_form(
        {"client_id": password_app.app.client_id, "client_secret": password_app.client_secret},
        url=REVOKE_URL,
    )
    assert_oauth_error(response, "invalid_request")


def test_get_query_string_and_malformed_json(password_app, tokens):
    assert_oauth_error(Client().get(REVOKE_URL), "invalid_request", 405)
    response = Client().post(f"{REVOKE_URL}?token=x", {})
    assert_oauth_error(response, "invalid_request")
    response = Client().post(REVOKE_URL, b"[]", content_type="application/json")
    assert_oauth_error(response, "invalid_request")
