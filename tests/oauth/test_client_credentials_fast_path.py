"""The client_credentials grant (oauth.engine.client_credentials): the same token, body, audit
event whichever way the client authenticates and whatever the body's encoding; and the same
answer whether the app is remembered by this worker or loaded afresh. (Before issue 14 a
direct path and oauthlib each decided part of these requests; the engine now decides all.)"""

from __future__ import annotations

import json

import pytest

from audit.models import AuditAction, AuditEvent
from oauth.models import AccessToken
from tests.oauth.tokenkit import basic, client_credentials, post_form, post_json, sha256

pytestmark = pytest.mark.django_db


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
def test_a_remembered_app_issues_what_a_fresh_load_issues(cc_app, extra):
    from oauth import principal_cache

    remembered = _issued(post_form(client_credentials(cc_app, **extra), HTTP_USER_AGENT="robot/1"))
    principal_cache.entries_clear()
    fresh = _issued(post_form(client_credentials(cc_app, **extra), HTTP_USER_AGENT="robot/1"))
    assert remembered == fresh
    assert AccessToken.objects.count() == 2


def test_body_credentials_and_json_bodies_issue_what_basic_issues(cc_app):
    app = cc_app.app
    form = {
        "grant_type": "client_credentials",
        "client_id": app.client_id,
        "client_secret": cc_app.client_secret,
    }
    by_basic = _issued(post_form(client_credentials(cc_app), HTTP_USER_AGENT="robot/1"))
    assert _issued(post_form(form, HTTP_USER_AGENT="robot/1")) == by_basic
    assert _issued(post_json(form, HTTP_USER_AGENT="robot/1"))["event"] == by_basic["event"]


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
def test_anything_unusual_gets_its_answer(cc_app, change):
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
    assert response["Content-Type"] == "application/json"
    expected = {
        "wrong secret": 401,
        "unknown scope": 400,
        "padded scope": 200,  # oauthlib's scope_to_list strips it
        "extra parameter": 200,  # RFC 8707 resource: not refused
        "basic and body secret": 200,  # Basic is tried first, as DOT does
        "other client_id in body": 401,
        "bearer scheme": 401,
    }
    assert response.status_code == expected[change], response.content


def test_a_disabled_app_or_a_switched_off_owner_is_refused(cc_app, admin):
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


def test_a_rotated_secret_stops_working_on_the_next_request(cc_app, admin):
    from accounts.access import Access
    from connected_apps.services import connected_app_rotate_secret

    assert post_form(client_credentials(cc_app)).status_code == 200
    connected_app_rotate_secret(access=Access(user=admin), app=cc_app.app)
    assert post_form(client_credentials(cc_app)).status_code == 401
