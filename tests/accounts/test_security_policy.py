"""The org sign-in policy (SPEC §11): `GET,PUT /accounts/api/organizations/{orgId}/
securityPolicy`, root-org administrators only; with MFA required, a member it covers gets no
token from a password alone (`POST /accounts/login`, the password grant)."""

from __future__ import annotations

import base64
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


# -- /authorize: a second factor before any code -------------------------------------------------
def authorize(client: Client, app, **extra):
    from tests.oauth.code_flow import authorize_url, pkce_pair

    verifier, challenge = pkce_pair()
    response = client.get(authorize_url(app.app, challenge=challenge, **extra))
    response.verifier = verifier
    return response


def test_a_member_the_policy_covers_sets_a_factor_up_before_any_code(admin, member, org, code_app):
    from oauth.models import Grant
    from oauth.services import authorization_grant
    from tests.oauth.code_flow import redirect_params

    authorization_grant(user=member, app=code_app.app, scopes=["openid", "profile"])
    assert put(session_of(admin), org, {"mfa_required": "everyone"}).status_code == 200
    browser = session_of(member)
    response = authorize(browser, code_app)
    assert response.status_code == 302 and response["Location"] == "/auth/2fa/"
    silent = redirect_params(authorize(browser, code_app, prompt="none"))
    assert silent["error"] == "interaction_required" and "code" not in silent
    assert not Grant.objects.exists()


def test_a_session_without_the_users_factor_uses_it_before_any_code(member, code_app):
    """A user with a second factor, whose session never used it (one from before it was set
    up): their factor first, then this request."""
    from oauth.services import authorization_grant
    from tests.accounts.test_mfa import fresh_code, totp_enrolled
    from tests.oauth.code_flow import redeem_code, redirect_params

    authorization_grant(user=member, app=code_app.app, scopes=["openid", "profile"])
    browser, totp = totp_enrolled(member)  # signed in with the password alone, then set up
    response = authorize(browser, code_app)
    location = response["Location"]
    assert location.startswith("/auth/2fa/reauthenticate/?next=")
    back = browser.post(location, {"code": fresh_code(totp, totp.now())})
    assert back.status_code == 302, back.status_code
    code = redirect_params(browser.get(back["Location"]))["code"]
    token = redeem_code(Client(), code_app, code, response.verifier).json()
    payload = token["id_token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert "mfa" in claims["amr"] and claims["acr"] == "2"
