"""Tokens from the password grant are an authorization too: My apps lists it, revoking it
kills the tokens, usage counts the user (SPEC §2 usage, §6 revoke)."""

from __future__ import annotations

import pytest

from audit.models import AuditAction, AuditEvent
from connected_apps.models import Authorization
from connected_apps.selectors import app_usage
from oauth.services import authorization_revoke
from tests.factories import DEFAULT_PASSWORD
from tests.oauth.tokenkit import (
    bearer_profile,
    isolated_throttle,  # noqa: F401 (autouse fixture)
    post_form,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def password_app(make_app):
    return make_app(
        client_name="Password App",
        grant_types=["password"],
        redirect_uris=[],
        scopes=["profile", "email"],
    )


def password_token(app_with_secret, user, scope="profile"):
    response = post_form(
        {
            "grant_type": "password",
            "username": user.username,
            "password": DEFAULT_PASSWORD,
            "client_id": app_with_secret.app.client_id,
            "client_secret": app_with_secret.client_secret,
            "scope": scope,
        }
    )
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


def test_password_grant_records_one_authorization_and_widens_it(password_app, member):
    password_token(password_app, member)
    password_token(password_app, member)
    authorization = Authorization.objects.get(user=member, app=password_app.app)
    assert authorization.scopes == ["profile"]
    assert authorization.last_used_at is not None
    assert AuditEvent.objects.filter(action=AuditAction.AUTHORIZATION_GRANTED).count() == 1

    password_token(password_app, member, scope="profile email")
    authorization.refresh_from_db()
    assert authorization.scopes == ["email", "profile"]
    assert app_usage(app=password_app.app).users == 1


def test_revoking_it_kills_the_password_grant_tokens(password_app, member):
    raw = password_token(password_app, member)
    assert bearer_profile(raw).status_code == 200
    authorization = Authorization.objects.get(user=member, app=password_app.app)
    authorization_revoke(actor=member, authorization=authorization)
    assert bearer_profile(raw).status_code == 401
