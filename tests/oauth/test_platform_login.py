"""`POST /accounts/login` (SPEC §4): a user's own platform token, `full`, as long-lived as
access tokens, stored as a checksum, throttled like the password grant, no CSRF token."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from audit.models import AuditAction, AuditEvent
from oauth.models import AccessToken
from tests.factories import DEFAULT_PASSWORD
from tests.oauth.tokenkit import (
    LOGIN_URL,
    assert_oauth_error,
    bearer_profile,
    isolated_throttle,  # noqa: F401 (autouse fixture)
    post_form,
    post_json,
    sha256,
)

pytestmark = pytest.mark.django_db


def login(username: str, password: str = DEFAULT_PASSWORD, *, as_json: bool = True, **meta):
    data = {"username": username, "password": password}
    send = post_json if as_json else post_form
    return send(data, url=LOGIN_URL, **meta)


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "form"])
def test_login_returns_a_platform_token(member, as_json):
    response = login(member.username, as_json=as_json)
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    profile = bearer_profile(body["access_token"])
    assert profile.status_code == 200
    assert profile.json()["username"] == member.username
    token = AccessToken.objects.get()
    assert token.application is None
    assert token.scope == "full"
    assert token.token == ""
    assert token.token_checksum == sha256(body["access_token"])


def test_login_is_audited_without_the_token(member, org):
    raw = login(member.username).json()["access_token"]
    event = AuditEvent.objects.get(action=AuditAction.TOKEN_ISSUED)
    assert event.actor_user == member
    assert event.organization_id == org.id
    assert event.details == {"grant_type": "platform_login", "scope": "full"}
    assert raw not in str(event.__dict__)


def test_no_csrf_token_needed(member):
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        LOGIN_URL,
        {"username": member.username, "password": DEFAULT_PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    ("username", "password"),
    [("acme-member", "wrong"), ("nobody", DEFAULT_PASSWORD)],
)
def test_wrong_credentials_are_401(member, username, password):
    response = login(username, password)
    body = assert_oauth_error(response, "invalid_grant", 401)
    assert body["error_description"] == "Invalid username or password."
    assert not AccessToken.objects.exists()


def test_deactivated_user_is_401(member):
    member.is_active = False
    member.save(update_fields=["is_active"])
    assert_oauth_error(login(member.username), "invalid_grant", 401)


@pytest.mark.parametrize(
    "payload",
    [{}, {"username": "acme-member"}, {"password": "x"}, {"username": 1, "password": "x"}],
)
def test_missing_or_wrong_fields_are_400(member, payload):
    assert_oauth_error(post_json(payload, url=LOGIN_URL), "invalid_request")


def test_malformed_json_and_arrays_are_400():
    response = Client().post(LOGIN_URL, b"{oops", content_type="application/json")
    assert_oauth_error(response, "invalid_request")
    assert_oauth_error(post_json(["username"], url=LOGIN_URL), "invalid_request")


def test_get_is_405_json():
    assert_oauth_error(Client().get(LOGIN_URL), "invalid_request", 405)


@override_settings(DOORMAN_LOGIN_MAX_FAILURES=3, DOORMAN_LOGIN_LOCKOUT=90)
def test_failures_are_throttled(member):
    for _ in range(3):
        assert login(member.username, "wrong").status_code == 401
    response = login(member.username)
    assert_oauth_error(response, "temporarily_unavailable", 429)
    assert 0 < int(response["Retry-After"]) <= 90


@override_settings(DOORMAN_LOGIN_MAX_FAILURES=3)
def test_the_throttle_is_shared_with_the_password_grant(member, make_app):
    app = make_app(grant_types=["password"], redirect_uris=[], scopes=["profile"])
    for _ in range(3):
        post_form(
            {
                "grant_type": "password",
                "username": member.username,
                "password": "wrong",
                "client_id": app.app.client_id,
                "client_secret": app.client_secret,
            }
        )
    assert_oauth_error(login(member.username), "temporarily_unavailable", 429)
