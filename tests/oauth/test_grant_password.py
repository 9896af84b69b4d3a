"""The password grant (RFC 6749 §4.3; SPEC §5): only for apps registered with it, wrong
credentials are invalid_grant, failures are throttled per username and per IP (429 with
Retry-After), the audience is enforced and deactivated users are refused."""

from __future__ import annotations

import pytest
from django.test import override_settings

from audit.models import AuditAction, AuditEvent
from oauth import throttle
from oauth.models import AccessToken
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.oauth.tokenkit import (
    assert_oauth_error,
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
        scopes=["profile", "email", "offline_access", "view:environment"],
    )


def password_grant(app_with_secret, username: str, password: str = DEFAULT_PASSWORD, **extra):
    return {
        "grant_type": "password",
        "username": username,
        "password": password,
        "client_id": app_with_secret.app.client_id,
        "client_secret": app_with_secret.client_secret,
        **extra,
    }


def test_password_grant_issues_tokens(password_app, member):
    response = post_form(password_grant(password_app, member.username))
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body["scope"].split()) == {"profile", "email", "view:environment"}
    assert "refresh_token" in body
    profile = bearer_profile(body["access_token"])
    assert profile.status_code == 200
    assert profile.json()["username"] == member.username
    event = AuditEvent.objects.get(action=AuditAction.TOKEN_ISSUED)
    assert event.actor_user == member
    assert event.details["grant_type"] == "password"
    assert DEFAULT_PASSWORD not in str(event.details)


def test_password_grant_with_a_json_body(password_app, member):
    response = post_json(password_grant(password_app, member.username, scope="profile"))
    assert response.status_code == 200, response.content
    assert response.json()["scope"] == "profile"


def test_no_refresh_token_for_an_app_without_the_refresh_grant(make_app, member):
    app = make_app(grant_types=["password"], redirect_uris=[], scopes=["profile"])
    body = post_form(password_grant(app, member.username)).json()
    assert "access_token" in body
    assert "refresh_token" not in body


@pytest.mark.parametrize(
    ("username", "password"),
    [("acme-member", "wrong password"), ("nobody-here", DEFAULT_PASSWORD), ("acme-member", "")],
)
def test_wrong_credentials_are_invalid_grant(password_app, member, username, password):
    response = post_form(password_grant(password_app, username, password))
    expected = "invalid_request" if not password else "invalid_grant"
    assert_oauth_error(response, expected)
    assert not AccessToken.objects.exists()


def test_wrong_password_is_audited_without_the_password(password_app, member):
    post_form(password_grant(password_app, member.username, "hunter2-wrong"))
    event = AuditEvent.objects.get(action=AuditAction.TOKEN_REFUSED)
    assert event.details == {"grant_type": "password", "error": "invalid_grant"}
    assert "hunter2-wrong" not in str(event.__dict__)


def test_app_without_the_password_grant_never_checks_the_password(code_app, member, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("the password must not be checked")

    monkeypatch.setattr("oauth2_provider.oauth2_validators.authenticate", fail)
    response = post_form(password_grant(code_app, member.username))
    assert_oauth_error(response, "unauthorized_client")
    response = post_form(password_grant(code_app, member.username, "wrong"))
    assert_oauth_error(response, "unauthorized_client")


def test_wrong_client_secret_is_checked_before_the_password(password_app, member, monkeypatch):
    monkeypatch.setattr(
        "oauth2_provider.oauth2_validators.authenticate",
        lambda *a, **k: pytest.fail("the password must not be checked"),
    )
    data = password_grant(password_app, member.username, client_secret="wrong")
    assert_oauth_error(post_form(data), "invalid_client", 401)


def test_deactivated_user_is_refused(password_app, member):
    member.is_active = False
    member.save(update_fields=["is_active"])
    assert_oauth_error(post_form(password_grant(password_app, member.username)), "invalid_grant")


def test_internal_app_refuses_users_of_other_orgs(password_app, other_admin):
    response = post_form(password_grant(password_app, other_admin.username))
    body = assert_oauth_error(response, "invalid_grant")
    assert body["error_description"] == "The user may not use this app."


def test_everyone_app_serves_users_of_other_orgs(make_app, other_admin):
    app = make_app(
        grant_types=["password"], redirect_uris=[], scopes=["profile"], audience="everyone"
    )
    response = post_form(password_grant(app, other_admin.username))
    assert response.status_code == 200, response.content


# -- throttling (RFC 6749 §4.3.2) -----------------------------------------------------------------
@override_settings(DOORMAN_LOGIN_MAX_FAILURES=3, DOORMAN_LOGIN_LOCKOUT=120)
def test_repeated_failures_lock_the_username_out(password_app, member):
    for _ in range(3):
        assert_oauth_error(
            post_form(password_grant(password_app, member.username, "wrong")), "invalid_grant"
        )
    # Locked out: even the right password is refused without being checked.
    response = post_form(password_grant(password_app, member.username))
    body = assert_oauth_error(response, "temporarily_unavailable", 429)
    assert 0 < int(response["Retry-After"]) <= 120
    assert "retry" in body["error_description"].lower()
    assert not AccessToken.objects.exists()
    # Another username from the same address is not affected.
    other = UserFactory(organization=member.organization, username="acme-other")
    assert post_form(password_grant(password_app, other.username)).status_code == 200
    refused = AuditEvent.objects.filter(action=AuditAction.TOKEN_REFUSED)
    assert refused.filter(details__error="temporarily_unavailable").count() == 1


@override_settings(DOORMAN_LOGIN_MAX_FAILURES=3)
def test_usernames_are_throttled_case_insensitively(password_app, member):
    for name in ("ACME-member", "acme-MEMBER", "Acme-Member"):
        post_form(password_grant(password_app, name, "wrong"))
    response = post_form(password_grant(password_app, member.username))
    assert_oauth_error(response, "temporarily_unavailable", 429)


@override_settings(DOORMAN_LOGIN_MAX_FAILURES=100, DOORMAN_LOGIN_MAX_FAILURES_PER_IP=4)
def test_repeated_failures_lock_the_address_out(password_app, member):
    for n in range(4):
        post_form(password_grant(password_app, f"guess-{n}", "wrong"), REMOTE_ADDR="203.0.113.9")
    response = post_form(password_grant(password_app, member.username), REMOTE_ADDR="203.0.113.9")
    assert_oauth_error(response, "temporarily_unavailable", 429)
    assert int(response["Retry-After"]) > 0
    response = post_form(password_grant(password_app, member.username), REMOTE_ADDR="203.0.113.10")
    assert response.status_code == 200, response.content


@override_settings(DOORMAN_LOGIN_MAX_FAILURES=3)
def test_a_success_clears_the_usernames_failures(password_app, member):
    for _ in range(2):
        post_form(password_grant(password_app, member.username, "wrong"))
    assert post_form(password_grant(password_app, member.username)).status_code == 200
    for _ in range(2):
        post_form(password_grant(password_app, member.username, "wrong"))
    assert post_form(password_grant(password_app, member.username)).status_code == 200


@override_settings(DOORMAN_LOGIN_MAX_FAILURES=2, DOORMAN_LOGIN_LOCKOUT=60)
def test_the_lockout_ends(password_app, member, monkeypatch):
    for _ in range(2):
        post_form(password_grant(password_app, member.username, "wrong"))
    assert post_form(password_grant(password_app, member.username)).status_code == 429
    later = throttle._now() + 61
    monkeypatch.setattr(throttle, "_now", lambda: later)
    assert post_form(password_grant(password_app, member.username)).status_code == 200
