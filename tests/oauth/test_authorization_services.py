"""oauth.services: recording a user's consent, and revoking it with everything issued under it."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client

from audit.models import AuditAction, AuditEvent
from audit.services import RequestMeta
from connected_apps.models import Authorization
from oauth.models import AccessToken, Grant, IDToken, RefreshToken
from oauth.services import (
    AUTHORIZATION_REVOKE_FORBIDDEN,
    authorization_grant,
    authorization_revoke,
)
from tests.factories import UserFactory
from tests.oauth.code_flow import obtain_code, pkce_pair, tokens_for
from tests.oauth.helpers import bearer, mint_access_token

pytestmark = pytest.mark.django_db

PROFILE_URL = "/accounts/api/profile"


# -- authorization_grant ---------------------------------------------------------------------
def test_grant_creates_the_live_authorization_and_an_audit_event(member, code_app):
    meta = RequestMeta(client_ip="203.0.113.9", user_agent="pytest")
    authorization = authorization_grant(
        user=member, app=code_app.app, scopes=["profile", "openid", "openid"], meta=meta
    )
    assert authorization.scopes == ["openid", "profile"]
    assert authorization.revoked_at is None
    event = AuditEvent.objects.get(action=AuditAction.AUTHORIZATION_GRANTED)
    assert event.actor_user == member
    assert event.organization == member.organization
    assert event.target_type == "authorization"
    assert event.target_id == str(authorization.pk)
    assert event.client_ip == "203.0.113.9"
    assert event.details == {
        "client_id": code_app.app.client_id,
        "client_name": "Test App",
        "scopes": ["openid", "profile"],
        "added_scopes": ["openid", "profile"],
    }


def test_grant_extends_the_live_authorization_and_never_narrows_it(member, code_app):
    first = authorization_grant(user=member, app=code_app.app, scopes=["openid", "profile"])
    second = authorization_grant(user=member, app=code_app.app, scopes=["email"])
    third = authorization_grant(user=member, app=code_app.app, scopes=["openid"])
    assert first.pk == second.pk == third.pk
    third.refresh_from_db()
    assert third.scopes == ["email", "openid", "profile"]
    assert Authorization.objects.count() == 1
    added = [
        e.details["added_scopes"]
        for e in AuditEvent.objects.filter(action=AuditAction.AUTHORIZATION_GRANTED).order_by(
            "created_at"
        )
    ]
    assert added == [["openid", "profile"], ["email"], []]


def test_grant_after_a_revocation_starts_a_new_authorization(member, code_app):
    old = authorization_grant(user=member, app=code_app.app, scopes=["openid", "email"])
    authorization_revoke(actor=member, authorization=old)
    new = authorization_grant(user=member, app=code_app.app, scopes=["openid"])
    assert new.pk != old.pk
    assert new.scopes == ["openid"]  # the revoked consent is not inherited
    assert Authorization.objects.filter(revoked_at__isnull=True).get() == new


# -- authorization_revoke --------------------------------------------------------------------
@pytest.fixture
def authorized(member, code_app):
    """The member went through the code flow twice (two token pairs) and has a pending code."""
    client = Client()
    client.force_login(member)
    first = tokens_for(client, code_app, scope="openid profile offline_access")
    second = tokens_for(client, code_app, scope="openid profile offline_access")
    pending = obtain_code(client, code_app.app, challenge=pkce_pair()[1], scope="openid profile")
    return {"tokens": [first, second], "pending_code": pending["code"]}


def test_revoke_kills_every_token_of_that_user_for_that_app(member, code_app, authorized):
    tokens = authorized["tokens"]
    for issued in tokens:
        assert Client().get(PROFILE_URL, **bearer(issued["access_token"])).status_code == 200
    authorization = Authorization.objects.get(user=member, app=code_app.app)

    authorization_revoke(actor=member, authorization=authorization)

    for issued in tokens:
        response = Client().get(PROFILE_URL, **bearer(issued["access_token"]))
        assert response.status_code == 401
        assert 'error="invalid_token"' in response["WWW-Authenticate"]
    assert not AccessToken.objects.filter(user=member, application=code_app.app).exists()
    assert not RefreshToken.objects.filter(
        user=member, application=code_app.app, revoked__isnull=True
    ).exists()
    assert not IDToken.objects.filter(user=member, application=code_app.app).exists()
    assert not Grant.objects.filter(user=member, application=code_app.app).exists()
    authorization.refresh_from_db()
    assert authorization.revoked_at is not None


def test_a_refresh_token_cannot_be_used_after_the_revocation(member, code_app, authorized):
    refresh = authorized["tokens"][0].get("refresh_token")
    if refresh is None:
        pytest.skip("the token endpoint issued no refresh token")
    authorization_revoke(
        actor=member, authorization=Authorization.objects.get(user=member, app=code_app.app)
    )
    response = Client().post(
        "/accounts/api/v2/oauth2/token",
        {
            "grant_type": "refresh_token",
            "refresh_token": refresh,
            "client_id": code_app.app.client_id,
            "client_secret": code_app.client_secret,
        },
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_revoke_spares_other_users_and_other_apps(member, admin, code_app, make_app):
    other_app = make_app(client_name="Other").app
    keep = [
        mint_access_token(user=admin, app=code_app.app, scope="profile"),
        mint_access_token(user=member, app=other_app, scope="profile"),
        mint_access_token(user=member, app=None, scope="full"),
    ]
    mint_access_token(user=member, app=code_app.app, scope="profile")
    authorization = authorization_grant(user=member, app=code_app.app, scopes=["profile"])
    authorization_revoke(actor=member, authorization=authorization)
    for raw in keep:
        assert Client().get(PROFILE_URL, **bearer(raw)).status_code == 200
    assert not AccessToken.objects.filter(user=member, application=code_app.app).exists()


def test_revoke_is_audited(member, code_app, authorized):
    authorization = Authorization.objects.get(user=member, app=code_app.app)
    authorization_revoke(
        actor=member,
        authorization=authorization,
        meta=RequestMeta(client_ip="198.51.100.7", user_agent="pytest"),
    )
    event = AuditEvent.objects.get(action=AuditAction.AUTHORIZATION_REVOKED)
    assert event.actor_user == member
    assert event.organization == member.organization
    assert event.target_id == str(authorization.pk)
    assert event.client_ip == "198.51.100.7"
    assert event.details["client_id"] == code_app.app.client_id
    assert event.details["user_id"] == str(member.id)
    assert event.details["access_tokens_deleted"] == 2
    assert event.details["codes_deleted"] >= 1
    assert set(event.details) == {
        "client_id",
        "client_name",
        "user_id",
        "scopes",
        "access_tokens_deleted",
        "refresh_tokens_revoked",
        "codes_deleted",
    }


def test_revoking_twice_is_harmless_and_audited_once(member, code_app):
    authorization = authorization_grant(user=member, app=code_app.app, scopes=["profile"])
    authorization_revoke(actor=member, authorization=authorization)
    first = authorization.revoked_at
    authorization_revoke(actor=member, authorization=authorization)
    authorization.refresh_from_db()
    assert authorization.revoked_at == first
    assert AuditEvent.objects.filter(action=AuditAction.AUTHORIZATION_REVOKED).count() == 1


def test_an_org_admin_may_revoke_a_members_authorization(member, admin, code_app):
    authorization = authorization_grant(user=member, app=code_app.app, scopes=["profile"])
    authorization_revoke(actor=admin, authorization=authorization)
    assert AuditEvent.objects.get(action=AuditAction.AUTHORIZATION_REVOKED).actor_user == admin


def test_another_member_may_not_revoke(member, org, code_app):
    authorization = authorization_grant(user=member, app=code_app.app, scopes=["profile"])
    with pytest.raises(PermissionDenied, match=AUTHORIZATION_REVOKE_FORBIDDEN):
        authorization_revoke(actor=UserFactory(organization=org), authorization=authorization)
    authorization.refresh_from_db()
    assert authorization.revoked_at is None


def test_another_orgs_admin_may_not_revoke(member, other_admin, code_app):
    authorization = authorization_grant(user=member, app=code_app.app, scopes=["profile"])
    with pytest.raises(PermissionDenied):
        authorization_revoke(actor=other_admin, authorization=authorization)
