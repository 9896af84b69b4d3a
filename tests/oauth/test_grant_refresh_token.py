"""refresh_token (RFC 6749 §6, RFC 9700 §4.14.2; SPEC §5): rotation on every use, a reused
token revokes its whole family, 90 days from issuance, and two concurrent refreshes of one
token never yield a 200 with empty tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.access import Access
from audit.models import AuditAction, AuditEvent
from connected_apps.services import connected_app_update
from oauth.engine.refresh_token import RefreshTokenGrant
from oauth.models import AccessToken, RefreshToken
from tests.factories import DEFAULT_PASSWORD
from tests.oauth.code_flow import tokens_for
from tests.oauth.tokenkit import (
    assert_oauth_error,
    bearer_profile,
    isolated_throttle,  # noqa: F401 (autouse fixture)
    post_form,
    post_json,
    sha256,
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
def tokens(password_app, member) -> dict:
    response = post_form(
        {
            "grant_type": "password",
            "username": member.username,
            "password": DEFAULT_PASSWORD,
            "client_id": password_app.app.client_id,
            "client_secret": password_app.client_secret,
        }
    )
    assert response.status_code == 200, response.content
    return response.json()


def refresh(app_with_secret, refresh_token: str, **extra):
    return post_form(
        {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": app_with_secret.app.client_id,
            "client_secret": app_with_secret.client_secret,
            **extra,
        }
    )


def test_refresh_rotates_both_tokens(password_app, tokens):
    response = refresh(password_app, tokens["refresh_token"])
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["refresh_token"] != tokens["refresh_token"]
    assert body["access_token"] != tokens["access_token"]
    assert body["scope"] == tokens["scope"]
    assert bearer_profile(body["access_token"]).status_code == 200
    assert bearer_profile(tokens["access_token"]).status_code == 401  # the old pair is gone
    old = RefreshToken.objects.get(token_checksum=sha256(tokens["refresh_token"]))
    new = RefreshToken.objects.get(token_checksum=sha256(body["refresh_token"]))
    assert old.revoked is not None
    assert new.token_family == old.token_family
    event = AuditEvent.objects.get(action=AuditAction.TOKEN_REFRESHED)
    assert event.details["grant_type"] == "refresh_token"
    assert tokens["refresh_token"] not in str(event.details)


def test_refresh_with_a_json_body(password_app, tokens):
    response = post_json(
        {
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": password_app.app.client_id,
            "client_secret": password_app.client_secret,
        }
    )
    assert response.status_code == 200, response.content


def test_every_use_rotates(password_app, tokens):
    current = tokens
    for _ in range(3):
        current = refresh(password_app, current["refresh_token"]).json()
    assert bearer_profile(current["access_token"]).status_code == 200
    assert RefreshToken.objects.filter(revoked__isnull=True).count() == 1


def test_reused_refresh_token_revokes_the_whole_family(password_app, tokens):
    second = refresh(password_app, tokens["refresh_token"]).json()
    third = refresh(password_app, second["refresh_token"]).json()

    reuse = refresh(password_app, tokens["refresh_token"])

    assert_oauth_error(reuse, "invalid_grant")
    assert bearer_profile(third["access_token"]).status_code == 401
    assert_oauth_error(refresh(password_app, third["refresh_token"]), "invalid_grant")
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()
    assert not AccessToken.objects.exists()
    revoked = AuditEvent.objects.filter(action=AuditAction.TOKEN_REVOKED)
    assert [e.details["reason"] for e in revoked] == ["refresh_token_reuse"]


def test_reuse_does_not_touch_other_families(password_app, member, tokens):
    other = post_form(
        {
            "grant_type": "password",
            "username": member.username,
            "password": DEFAULT_PASSWORD,
            "client_id": password_app.app.client_id,
            "client_secret": password_app.client_secret,
        }
    ).json()
    refresh(password_app, tokens["refresh_token"])
    refresh(password_app, tokens["refresh_token"])  # reuse: this family dies
    assert bearer_profile(other["access_token"]).status_code == 200
    assert refresh(password_app, other["refresh_token"]).status_code == 200


def test_concurrent_refresh_never_answers_empty_tokens(password_app, tokens, monkeypatch):
    """Two requests validate the same live refresh token; the first rotates it and commits
    before the second saves. The second is a reuse: invalid_grant, and the family revoked —
    DOT alone would answer 200 with "access_token": "" (hashed storage)."""
    original = RefreshTokenGrant.validate_token_request
    winner = {}

    def validate_then_lose_the_race(self, req):
        valid = original(self, req)
        if "started" not in winner:
            winner["started"] = True
            refresh_token = req.params["refresh_token"]
            winner["response"] = refresh(password_app, refresh_token)  # commits first
        return valid

    monkeypatch.setattr(RefreshTokenGrant, "validate_token_request", validate_then_lose_the_race)
    loser = refresh(password_app, tokens["refresh_token"])

    assert winner["response"].status_code == 200
    body = assert_oauth_error(loser, "invalid_grant")
    assert "access_token" not in body
    fresh = winner["response"].json()
    assert bearer_profile(fresh["access_token"]).status_code == 401
    monkeypatch.undo()
    assert_oauth_error(refresh(password_app, fresh["refresh_token"]), "invalid_grant")


def test_refresh_tokens_live_ninety_days_from_issuance(password_app, tokens):
    row = RefreshToken.objects.get(token_checksum=sha256(tokens["refresh_token"]))
    RefreshToken.objects.filter(pk=row.pk).update(
        created=timezone.now() - timedelta(days=89, hours=23)
    )
    second = refresh(password_app, tokens["refresh_token"])
    assert second.status_code == 200, second.content
    new = RefreshToken.objects.get(token_checksum=sha256(second.json()["refresh_token"]))
    RefreshToken.objects.filter(pk=new.pk).update(created=timezone.now() - timedelta(days=90))
    assert_oauth_error(refresh(password_app, second.json()["refresh_token"]), "invalid_grant")


def test_narrower_scope_on_refresh(password_app, tokens):
    response = refresh(password_app, tokens["refresh_token"], scope="profile")
    assert response.status_code == 200, response.content
    assert response.json()["scope"] == "profile"


def test_wider_scope_on_refresh_is_invalid_scope(password_app, tokens):
    response = refresh(password_app, tokens["refresh_token"], scope="profile manage:users")
    assert_oauth_error(response, "invalid_scope")


def test_refresh_token_of_another_app_is_invalid_grant(tokens, make_app):
    other = make_app(
        client_name="Other", grant_types=["password", "refresh_token"], redirect_uris=[]
    )
    assert_oauth_error(refresh(other, tokens["refresh_token"]), "invalid_grant")


def test_unknown_refresh_token_is_invalid_grant(password_app):
    assert_oauth_error(refresh(password_app, "not-a-token"), "invalid_grant")


def test_disabled_app_cannot_refresh(password_app, tokens, admin):
    connected_app_update(
        access=Access(user=admin), app=password_app.app, changes={"enabled": False}
    )
    assert_oauth_error(refresh(password_app, tokens["refresh_token"]), "invalid_client", 401)


def test_app_no_longer_registered_for_refresh_is_unauthorized(password_app, tokens, admin):
    connected_app_update(
        access=Access(user=admin), app=password_app.app, changes={"grant_types": ["password"]}
    )
    assert_oauth_error(refresh(password_app, tokens["refresh_token"]), "unauthorized_client")


def test_deactivated_user_cannot_refresh(password_app, tokens, member):
    member.is_active = False
    member.save(update_fields=["is_active"])
    assert_oauth_error(refresh(password_app, tokens["refresh_token"]), "invalid_grant")


def test_code_flow_refresh_keeps_offline_access(code_app, member):
    browser = Client()
    browser.force_login(member)
    first = tokens_for(browser, code_app, scope="openid profile offline_access")
    response = refresh(code_app, first["refresh_token"])
    assert response.status_code == 200, response.content
    body = response.json()
    assert "refresh_token" in body
    assert "id_token" in body  # OIDC Core §12.2
    assert bearer_profile(body["access_token"]).status_code == 200
