"""client_credentials (RFC 6749 §4.4; SPEC §3, §5): own-behalf apps only, the app's
context-bound scopes plus the implicit `profile`, no user, never a refresh token."""

from __future__ import annotations

import pytest

from accounts.access import Access
from audit.models import AuditAction, AuditEvent
from connected_apps.models import AppUsageDay, ConnectedApp
from connected_apps.selectors import app_usage
from connected_apps.services import connected_app_update
from connected_apps.usage import usage_rollup
from oauth.models import AccessToken, RefreshToken
from tests.oauth.tokenkit import (
    assert_oauth_error,
    bearer_profile,
    client_credentials,
    isolated_throttle,  # noqa: F401 (autouse fixture)
    post_form,
    sha256,
)

pytestmark = pytest.mark.django_db


def test_token_holds_the_apps_scopes_and_profile(cc_app, admin):
    response = post_form(client_credentials(cc_app))
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body["scope"].split()) == {"profile", "read:organization", "view:environment"}
    assert "refresh_token" not in body
    assert "id_token" not in body
    token = AccessToken.objects.get(token_checksum=sha256(body["access_token"]))
    assert token.user is None
    assert token.application_id == cc_app.app.pk
    assert not RefreshToken.objects.exists()
    # The app reads its creator's profile (SPEC §3).
    profile = bearer_profile(body["access_token"])
    assert profile.status_code == 200
    assert profile.json()["username"] == admin.username


def test_requested_scope_subset(cc_app):
    response = post_form(client_credentials(cc_app, scope="read:organization"))
    assert response.status_code == 200, response.content
    assert response.json()["scope"] == "read:organization"


@pytest.mark.parametrize("scope", ["manage:users", "full", "openid", "profile nonsense"])
def test_scope_the_app_does_not_hold_is_invalid_scope(cc_app, scope):
    assert_oauth_error(post_form(client_credentials(cc_app, scope=scope)), "invalid_scope")


def test_scope_removed_from_the_app_can_no_longer_be_requested(cc_app, admin, org):
    connected_app_update(
        access=Access(user=admin),
        app=cc_app.app,
        changes={"scopes": [{"scope": "view:environment", "context_params": {"org": str(org.id)}}]},
    )
    response = post_form(client_credentials(cc_app, scope="read:organization"))
    assert_oauth_error(response, "invalid_scope")


def test_user_app_is_unauthorized_for_client_credentials(code_app):
    response = post_form(client_credentials(code_app))
    assert_oauth_error(response, "unauthorized_client")
    assert not AccessToken.objects.exists()


def test_issuance_is_audited_and_marks_the_app_used(cc_app, org):
    assert cc_app.app.last_used_at is None
    response = post_form(client_credentials(cc_app), HTTP_USER_AGENT="ci-robot/1.0")
    raw = response.json()["access_token"]
    event = AuditEvent.objects.get(action=AuditAction.TOKEN_ISSUED)
    assert event.actor_client_id == cc_app.app.client_id
    assert event.actor_user is None
    assert event.organization_id == org.id
    assert event.user_agent == "ci-robot/1.0"
    assert event.client_ip == "127.0.0.1"
    assert event.details["grant_type"] == "client_credentials"
    assert event.details["refresh_token_issued"] is False
    assert raw not in str(event.details)
    assert ConnectedApp.objects.get(pk=cc_app.app.pk).last_used_at is not None
    post_form(client_credentials(cc_app))
    assert app_usage(app=cc_app.app).tokens_issued[-1]["count"] == 2
    assert usage_rollup() == 2
    assert AppUsageDay.objects.get(app=cc_app.app).tokens_issued == 2


def test_refused_grant_is_audited(code_app):
    post_form(client_credentials(code_app))
    event = AuditEvent.objects.get(action=AuditAction.TOKEN_REFUSED)
    assert event.details == {"grant_type": "client_credentials", "error": "unauthorized_client"}
