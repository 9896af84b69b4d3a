"""authorization_code + PKCE (RFC 6749 §4.1, RFC 7636; SPEC §5): S256 only, codes stored as
digests, single use, ≤ 10 minutes, redirect_uri identical, a replayed code revokes what it
issued, refresh tokens only with offline_access."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from audit.models import AuditAction, AuditEvent
from oauth.engine.authorization_code import AuthorizationCodeGrant
from oauth.models import AccessToken, Grant, RefreshToken
from tests.oauth.code_flow import (
    authorize_url,
    obtain_code,
    pkce_pair,
    redeem_code,
)
from tests.oauth.tokenkit import (
    assert_oauth_error,
    bearer_profile,
    isolated_throttle,  # noqa: F401 (autouse fixture)
    post_form,
    sha256,
)

pytestmark = pytest.mark.django_db

SCOPES = "openid profile offline_access"


@pytest.fixture
def browser(member):
    client = Client()
    client.force_login(member)
    return client


@pytest.fixture
def issued(browser, code_app):
    """A code obtained with PKCE S256: (code, verifier)."""
    verifier, challenge = pkce_pair()
    params = obtain_code(browser, code_app.app, challenge=challenge, scope=SCOPES)
    return params["code"], verifier


def refresh_with(app_with_secret, refresh_token: str):
    return post_form(
        {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": app_with_secret.app.client_id,
            "client_secret": app_with_secret.client_secret,
        }
    )


# -- the happy path ----------------------------------------------------------------------------
def test_code_exchange_issues_tokens(code_app, issued, member):
    code, verifier = issued
    response = redeem_code(Client(), code_app, code, verifier)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["scope"] == SCOPES
    assert {"access_token", "refresh_token", "id_token", "expires_in"} <= set(body)
    assert response["Cache-Control"] == "no-store"
    profile = bearer_profile(body["access_token"])
    assert profile.status_code == 200
    assert profile.json()["username"] == member.username
    event = AuditEvent.objects.get(action=AuditAction.TOKEN_ISSUED)
    assert event.actor_user == member
    assert event.actor_client_id == code_app.app.client_id
    assert event.details["grant_type"] == "authorization_code"
    assert code not in str(event.details)


def test_code_exchange_with_basic_auth(code_app, issued):
    from tests.oauth.tokenkit import basic

    code, verifier = issued
    response = post_form(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "https://client.example/callback",
            "code_verifier": verifier,
        },
        HTTP_AUTHORIZATION=basic(code_app.app.client_id, code_app.client_secret),
    )
    assert response.status_code == 200, response.content


def test_codes_are_stored_as_digests(code_app, issued):
    code, _ = issued
    grant = Grant.objects.get()
    assert grant.code == sha256(code)
    assert code not in grant.code
    assert grant.code_challenge_method == "S256"


def test_no_refresh_token_without_offline_access(browser, code_app):
    verifier, challenge = pkce_pair()
    code = obtain_code(browser, code_app.app, challenge=challenge, scope="openid profile")["code"]
    response = redeem_code(Client(), code_app, code, verifier)
    assert response.status_code == 200, response.content
    assert "refresh_token" not in response.json()
    assert not RefreshToken.objects.exists()


def test_no_refresh_token_for_an_app_without_the_refresh_grant(browser, make_app):
    app = make_app(client_name="No refresh", grant_types=["authorization_code"])
    verifier, challenge = pkce_pair()
    code = obtain_code(browser, app.app, challenge=challenge, scope=SCOPES)["code"]
    response = redeem_code(Client(), app, code, verifier)
    assert response.status_code == 200, response.content
    assert "refresh_token" not in response.json()


def test_no_id_token_without_openid(browser, code_app):
    verifier, challenge = pkce_pair()
    code = obtain_code(browser, code_app.app, challenge=challenge, scope="profile")["code"]
    body = redeem_code(Client(), code_app, code, verifier).json()
    assert "id_token" not in body


# -- PKCE (RFC 7636, S256 only) ------------------------------------------------------------------
def _authorize_error(browser, app, **params) -> dict:
    response = browser.get(authorize_url(app, **params))
    assert response.status_code == 302, response.status_code
    return {k: v[0] for k, v in parse_qs(urlsplit(response["Location"]).query).items()}


def test_plain_pkce_is_refused_at_authorize(browser, code_app):
    verifier, _ = pkce_pair()
    params = _authorize_error(
        browser, code_app.app, challenge=verifier, code_challenge_method="plain"
    )
    assert params["error"] == "invalid_request"
    assert not Grant.objects.exists()


def test_challenge_without_method_is_refused_at_authorize(browser, code_app):
    # oauthlib would default the method to "plain".
    _, challenge = pkce_pair()
    params = _authorize_error(
        browser, code_app.app, challenge=challenge, code_challenge_method=None
    )
    assert params["error"] == "invalid_request"


def test_missing_pkce_is_refused_at_authorize(browser, code_app):
    params = _authorize_error(browser, code_app.app, challenge=None, code_challenge_method=None)
    assert params["error"] == "invalid_request"


@pytest.mark.parametrize("challenge", ["short", "a" * 42 + "!", "a" * 44])
def test_malformed_challenge_is_refused_at_authorize(browser, code_app, challenge):
    params = _authorize_error(browser, code_app.app, challenge=challenge)
    assert params["error"] == "invalid_request"


def test_missing_verifier_is_refused(code_app, issued):
    code, _ = issued
    response = post_form(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "https://client.example/callback",
            "client_id": code_app.app.client_id,
            "client_secret": code_app.client_secret,
        }
    )
    assert_oauth_error(response, "invalid_request")
    assert AccessToken.objects.count() == 0


def test_wrong_verifier_is_invalid_grant(code_app, issued):
    code, _ = issued
    other_verifier, _ = pkce_pair()
    assert_oauth_error(redeem_code(Client(), code_app, code, other_verifier), "invalid_grant")


def test_stored_plain_challenge_is_invalid_grant_not_server_error(code_app, issued):
    code, verifier = issued
    Grant.objects.update(code_challenge=verifier, code_challenge_method="plain")
    assert_oauth_error(redeem_code(Client(), code_app, code, verifier), "invalid_grant")


# -- code rules ----------------------------------------------------------------------------------
def test_wrong_redirect_uri_is_invalid_grant(code_app, issued):
    code, verifier = issued
    response = redeem_code(
        Client(), code_app, code, verifier, redirect_uri="https://client.example/other"
    )
    assert_oauth_error(response, "invalid_grant")


def test_expired_code_is_invalid_grant(code_app, issued):
    code, verifier = issued
    grant = Grant.objects.get()
    assert grant.expires - timezone.now() <= timedelta(minutes=10)
    Grant.objects.update(expires=timezone.now() - timedelta(seconds=1))
    assert_oauth_error(redeem_code(Client(), code_app, code, verifier), "invalid_grant")


def test_code_of_another_app_is_invalid_grant(make_app, issued):
    other = make_app(client_name="Other")
    code, verifier = issued
    assert_oauth_error(redeem_code(Client(), other, code, verifier), "invalid_grant")


def test_unknown_code_is_invalid_grant(code_app):
    verifier, _ = pkce_pair()
    assert_oauth_error(redeem_code(Client(), code_app, "made-up", verifier), "invalid_grant")


def test_replayed_code_is_refused_and_revokes_its_tokens(code_app, issued, member):
    code, verifier = issued
    first = redeem_code(Client(), code_app, code, verifier).json()
    assert bearer_profile(first["access_token"]).status_code == 200

    replay = redeem_code(Client(), code_app, code, verifier)

    assert_oauth_error(replay, "invalid_grant")
    assert bearer_profile(first["access_token"]).status_code == 401
    assert_oauth_error(refresh_with(code_app, first["refresh_token"]), "invalid_grant")
    assert not AccessToken.objects.exists()
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()
    revoked = AuditEvent.objects.get(action=AuditAction.TOKEN_REVOKED)
    assert revoked.details["reason"] == "authorization_code_replay"


def test_replay_also_revokes_tokens_refreshed_from_the_code(code_app, issued):
    code, verifier = issued
    first = redeem_code(Client(), code_app, code, verifier).json()
    refreshed = refresh_with(code_app, first["refresh_token"]).json()
    assert bearer_profile(refreshed["access_token"]).status_code == 200

    assert_oauth_error(redeem_code(Client(), code_app, code, verifier), "invalid_grant")

    assert bearer_profile(refreshed["access_token"]).status_code == 401
    assert_oauth_error(refresh_with(code_app, refreshed["refresh_token"]), "invalid_grant")


def test_code_without_offline_access_replay_revokes_its_access_token(browser, code_app):
    verifier, challenge = pkce_pair()
    code = obtain_code(browser, code_app.app, challenge=challenge, scope="profile")["code"]
    first = redeem_code(Client(), code_app, code, verifier).json()
    assert_oauth_error(redeem_code(Client(), code_app, code, verifier), "invalid_grant")
    assert bearer_profile(first["access_token"]).status_code == 401


def test_concurrent_redemption_issues_once_and_revokes(code_app, issued, monkeypatch):
    """Two requests pass validate_code before either claims the code: the loser's claim
    finds it taken, is refused, and revokes what the winner was issued."""
    code, verifier = issued
    winner = redeem_code(Client(), code_app, code, verifier).json()
    grant = Grant.objects.get()
    claimed_at = grant.used_at
    Grant.objects.update(used_at=None)  # as the loser saw it when it validated
    original = AuthorizationCodeGrant.validate_token_request

    def validate_then_lose_the_race(self, req):
        valid = original(self, req)
        Grant.objects.update(used_at=claimed_at)  # the winner commits its claim now
        return valid

    monkeypatch.setattr(
        AuthorizationCodeGrant, "validate_token_request", validate_then_lose_the_race
    )
    loser = redeem_code(Client(), code_app, code, verifier)

    assert_oauth_error(loser, "invalid_grant")
    assert AccessToken.objects.count() == 0
    assert bearer_profile(winner["access_token"]).status_code == 401


def test_member_who_left_the_org_cannot_redeem(code_app, issued, member, other_org):
    code, verifier = issued
    member.organization = other_org
    member.save(update_fields=["organization"])
    assert_oauth_error(redeem_code(Client(), code_app, code, verifier), "invalid_grant")


def test_deactivated_user_cannot_redeem(code_app, issued, member):
    code, verifier = issued
    member.is_active = False
    member.save(update_fields=["is_active"])
    assert_oauth_error(redeem_code(Client(), code_app, code, verifier), "invalid_grant")


def test_invalid_grant_is_audited_without_the_code(code_app, issued):
    code, _ = issued
    other_verifier, _ = pkce_pair()
    redeem_code(Client(), code_app, code, other_verifier)
    event = AuditEvent.objects.get(action=AuditAction.TOKEN_REFUSED)
    assert event.details == {"grant_type": "authorization_code", "error": "invalid_grant"}
    assert event.actor_client_id == code_app.app.client_id
    assert code not in str(event.__dict__)


def test_a_code_is_redeemed_only_while_the_consent_behind_it_covers_it(browser, member, code_app):
    """A code is worth no more than the consent behind it at redemption: narrowed to fewer
    scopes, or given before the app's consent reset, it no longer stands behind the code."""
    from connected_apps.models import Authorization

    for change in ("narrowed", "reset"):
        verifier, challenge = pkce_pair()
        code = obtain_code(browser, code_app.app, challenge=challenge)["code"]
        if change == "narrowed":
            Authorization.objects.filter(user=member).update(scopes=["openid"])
        else:
            type(code_app.app).objects.filter(pk=code_app.app.pk).update(
                consent_reset_at=timezone.now()
            )
        response = redeem_code(Client(), code_app, code, verifier)
        assert response.status_code == 400, response.content
        assert response.json()["error"] == "invalid_grant"
        Authorization.objects.filter(user=member).delete()
