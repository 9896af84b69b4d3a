"""The direct client_credentials path (oauth.engine.client_credentials) issues exactly what the
oauthlib path issues, and hands every request it is not certain of to that path."""

from __future__ import annotations

import json

import pytest

from audit.models import AuditAction, AuditEvent
from oauth.engine import client_credentials as fast_path
from oauth.models import AccessToken
from tests.oauth.tokenkit import basic, client_credentials, post_form, post_json, sha256

pytestmark = pytest.mark.django_db


@pytest.fixture
def taken(monkeypatch):
    """Records whether the direct path answered each request."""
    outcomes = []
    original = fast_path.client_credentials_token

    def spy(request, params):
        response = original(request, params)
        outcomes.append(response is not None)
        return response

    monkeypatch.setattr("oauth.views.token.client_credentials_token", spy)
    return outcomes


def _issued(response) -> dict:
    """What a successful cc request produced: response, token row, audit event."""
    assert response.status_code == 200, response.content
    body = response.json()
    token = AccessToken.objects.get(token_checksum=sha256(body["access_token"]))
    event = AuditEvent.objects.filter(action=AuditAction.TOKEN_ISSUED).latest("created_at")
    return {
        "keys": list(body),
        "expires_in": body["expires_in"],
        "token_type": body["token_type"],
        "scope": body["scope"],
        "headers": {name: response[name] for name in ("Content-Type", "Cache-Control", "Pragma")},
        "row": (token.user_id, token.application_id, token.scope, token.token, token.token_family),
        "lifetime": round((token.expires - token.created).total_seconds()),
        "event": (
            event.outcome,
            event.organization_id,
            event.actor_user_id,
            event.actor_client_id,
            event.actor_name,
            event.target_type,
            event.target_id,
            event.client_ip,
            event.user_agent,
            json.dumps(event.details, sort_keys=True),
        ),
    }


@pytest.mark.parametrize(
    "extra", [{}, {"scope": "profile"}, {"scope": "read:organization profile"}], ids=str
)
def test_direct_path_issues_what_oauthlib_issues(cc_app, monkeypatch, taken, extra):
    direct = _issued(post_form(client_credentials(cc_app, **extra), HTTP_USER_AGENT="robot/1"))
    assert taken == [True]
    monkeypatch.setattr(fast_path, "client_credentials_token", lambda request, params: None)
    monkeypatch.setattr("oauth.views.token.client_credentials_token", lambda r, p: None)
    general = _issued(post_form(client_credentials(cc_app, **extra), HTTP_USER_AGENT="robot/1"))
    assert direct == general
    assert AccessToken.objects.count() == 2


def test_body_credentials_and_json_bodies_take_the_direct_path(cc_app, taken):
    app = cc_app.app
    form = {
        "grant_type": "client_credentials",
        "client_id": app.client_id,
        "client_secret": cc_app.client_secret,
    }
    assert post_form(form).status_code == 200
    assert post_json(form).status_code == 200
    assert taken == [True, True]


@pytest.mark.parametrize(
    "change",
    [
        "wrong secret",
        "unknown scope",
        "padded scope",
        "extra parameter",
        "basic and body secret",
        "other client_id in body",
        "bearer scheme",
    ],
)
def test_anything_uncertain_goes_the_general_way(cc_app, taken, change):
    app = cc_app.app
    data = {"grant_type": "client_credentials"}
    meta = {"HTTP_AUTHORIZATION": basic(app.client_id, cc_app.client_secret)}
    if change == "wrong secret":
        meta["HTTP_AUTHORIZATION"] = basic(app.client_id, "not-the-secret")
    elif change == "unknown scope":
        data["scope"] = "manage:users"
    elif change == "padded scope":
        data["scope"] = " profile"
    elif change == "extra parameter":
        data["resource"] = "https://api.example"
    elif change == "basic and body secret":
        data["client_secret"] = cc_app.client_secret
    elif change == "other client_id in body":
        data["client_id"] = "0" * 32
    elif change == "bearer scheme":
        meta["HTTP_AUTHORIZATION"] = "Bearer " + cc_app.client_secret
    response = post_form(data, **meta)
    assert taken == [False]
    assert response["Content-Type"] == "application/json"


def test_a_disabled_app_or_a_switched_off_owner_is_left_to_the_general_way(cc_app, admin, taken):
    from accounts.access import Access
    from connected_apps.controls import org_settings_update
    from connected_apps.services import connected_app_update

    org_settings_update(access=Access(user=admin), org=cc_app.app.owner_org, enabled=False)
    response = post_form(client_credentials(cc_app))
    assert response.status_code == 400 and response.json()["error"] == "unauthorized_client"
    org_settings_update(access=Access(user=admin), org=cc_app.app.owner_org, enabled=True)
    assert post_form(client_credentials(cc_app)).status_code == 200
    connected_app_update(access=Access(user=admin), app=cc_app.app, changes={"enabled": False})
    assert post_form(client_credentials(cc_app)).status_code == 401
    assert taken == [False, True, False]


def test_a_rotated_secret_stops_working_on_the_next_request(cc_app, admin, taken):
    from accounts.access import Access
    from connected_apps.services import connected_app_rotate_secret

    assert post_form(client_credentials(cc_app)).status_code == 200
    connected_app_rotate_secret(access=Access(user=admin), app=cc_app.app)
    assert post_form(client_credentials(cc_app)).status_code == 401
    assert taken == [True, False]
