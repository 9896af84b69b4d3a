"""The org sign-in policy (SPEC §11): `GET,PUT /accounts/api/organizations/{orgId}/
securityPolicy`, root-org administrators only; with MFA required, a member it covers gets no
token from a password alone (`POST /accounts/login`, the password grant)."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from audit.models import AuditEvent
from tests.factories import DEFAULT_PASSWORD
from tests.oauth.tokenkit import (
    LOGIN_URL,
    basic,
    isolated_throttle,  # noqa: F401 (autouse fixture)
    post_form,
    post_json,
)

pytestmark = pytest.mark.django_db


def policy_url(org) -> str:
    return f"/accounts/api/organizations/{org.id}/securityPolicy"


def session_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def put(client: Client, org, body) -> object:
    return client.put(policy_url(org), json.dumps(body), content_type="application/json")


def test_the_policy_starts_off_and_an_admin_changes_it_audited(admin, org):
    client = session_of(admin)
    assert client.get(policy_url(org)).json() == {"mfa_required": "off", "sso_enforced": False}
    response = put(client, org, {"mfa_required": "everyone"})
    assert response.status_code == 200, response.content
    assert response.json() == {"mfa_required": "everyone", "sso_enforced": False}
    assert client.get(policy_url(org)).json()["mfa_required"] == "everyone"
    event = AuditEvent.objects.get(action="org.security_policy_changed")
    assert event.details == {
        "before": {"mfa_required": "off", "sso_enforced": False},
        "after": {"mfa_required": "everyone", "sso_enforced": False},
    }
    assert event.actor_user_id == admin.pk and event.organization_id == org.id


def test_only_the_root_orgs_administrators_see_or_change_it(member, org, other_admin):
    assert session_of(member).get(policy_url(org)).status_code == 403
    assert put(session_of(member), org, {"mfa_required": "off"}).status_code == 403
    assert session_of(other_admin).get(policy_url(org)).status_code == 404
    assert put(session_of(other_admin), org, {"mfa_required": "off"}).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"mfa_required": "sometimes"},
        {"mfa_required": None},
        {"colour": "teal"},
        {"sso_enforced": True},
    ],
)
def test_a_bad_change_is_400_and_changes_nothing(admin, org, body):
    client = session_of(admin)
    response = put(client, org, body)
    assert response.status_code == 400, response.content
    assert client.get(policy_url(org)).json() == {"mfa_required": "off", "sso_enforced": False}
    assert not AuditEvent.objects.filter(action="org.security_policy_changed").exists()


@pytest.fixture
def password_app(make_app):
    return make_app(grant_types=["password"], redirect_uris=[], scopes=["profile"])


def password_answers(user, app) -> list:
    credentials = {"username": user.username, "password": DEFAULT_PASSWORD}
    grant = {"grant_type": "password", "scope": "profile", **credentials}
    return [
        post_json(credentials, url=LOGIN_URL),
        post_form(grant, HTTP_AUTHORIZATION=basic(app.app.client_id, app.client_secret)),
    ]


@pytest.mark.parametrize(
    ("requirement", "admin_refused", "member_refused"),
    [("off", False, False), ("admins", True, False), ("everyone", True, True)],
)
def test_a_password_alone_gets_no_token_for_whom_the_policy_covers(
    admin, member, org, password_app, requirement, admin_refused, member_refused
):
    assert put(session_of(admin), org, {"mfa_required": requirement}).status_code == 200
    for user, refused in ((admin, admin_refused), (member, member_refused)):
        for response in password_answers(user, password_app):
            if refused:
                assert response.status_code == 400, response.content
                assert response.json()["error"] == "interaction_required"
            else:
                assert response.status_code == 200, response.content
