"""The org sign-in policy (SPEC §11): `GET,PUT /accounts/api/organizations/{orgId}/
securityPolicy`, root-org administrators only; with MFA required, a member it covers gets no
token from a password alone (`POST /accounts/login`, the password grant)."""

from __future__ import annotations

import json
import time

import pytest
from django.test import Client

from accounts.models import OrgSecurityPolicy
from audit.models import AuditEvent
from tests.factories import DEFAULT_PASSWORD
from tests.oauth.code_flow import unverified_claims
from tests.oauth.tokenkit import (
    LOGIN_URL,
    basic,
    isolated_throttle,  # noqa: F401 (autouse fixture)
    post_form,
    post_json,
)

pytestmark = pytest.mark.django_db
MY_APPS = "/my-apps/"  # a portal page every signed-in user may open (/ sends end users there)


def policy_url(org) -> str:
    return f"/accounts/api/organizations/{org.id}/securityPolicy"


def session_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def with_a_factor(user):
    """A TOTP device, as set up on /auth/2fa/ (its secret never used here)."""
    from allauth.mfa.models import Authenticator

    Authenticator.objects.create(user=user, type=Authenticator.Type.TOTP, data={"secret": "-"})
    return user


def signed_in_with_a_factor(user) -> Client:
    """A session that signed in with the password and a second factor (allauth's records of
    both, as its sign-in pages leave them)."""
    client = session_of(user)
    session = client.session
    now = time.time()
    session["account_authentication_methods"] = [
        {"method": "password", "at": now},
        {"method": "mfa", "type": "totp", "at": now},
    ]
    session["account_authentication_methods_user"] = str(user.pk)
    session.save()
    return client


@pytest.fixture
def admin_session(admin) -> Client:
    return signed_in_with_a_factor(with_a_factor(admin))


def put(client: Client, org, body) -> object:
    return client.put(policy_url(org), json.dumps(body), content_type="application/json")


def test_the_policy_starts_off_and_an_admin_changes_it_audited(admin, admin_session, org):
    client = admin_session
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
def test_a_bad_change_is_400_and_changes_nothing(admin_session, org, body):
    client = admin_session
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
    org, password_app, requirement, admin_refused, member_refused
):
    from tests.factories import AdminRoleFactory, UserFactory

    admin = UserFactory(organization=org, username="policy-admin")  # no factor, not the author
    AdminRoleFactory(user=admin, organization=org)
    member = UserFactory(organization=org, username="policy-member")
    OrgSecurityPolicy.objects.create(organization=org, mfa_required=requirement)
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


def test_a_member_the_policy_covers_sets_a_factor_up_before_any_code(
    admin_session, member, org, code_app
):
    from oauth.models import Grant
    from oauth.services import authorization_grant
    from tests.oauth.code_flow import redirect_params

    authorization_grant(user=member, app=code_app.app, scopes=["openid", "profile"])
    assert put(admin_session, org, {"mfa_required": "everyone"}).status_code == 200
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
    claims = unverified_claims(token["id_token"])
    assert "mfa" in claims["amr"] and claims["acr"] == "2"


# -- the portal ------------------------------------------------------------------------------------
def test_the_portal_waits_for_the_second_factor_the_policy_requires(admin_session, member, org):
    from tests.accounts.test_mfa import fresh_code, totp_enrolled

    # My apps stands for any portal page: it is the home of a member without permissions.
    home = session_of(member).get(MY_APPS)
    assert home.status_code == 200  # no policy yet
    assert put(admin_session, org, {"mfa_required": "everyone"}).status_code == 200
    browser = session_of(member)
    assert browser.get(MY_APPS)["Location"] == "/auth/2fa/"  # set one up first
    assert browser.get("/auth/2fa/").status_code == 200  # allauth's pages stay open
    api = browser.get("/accounts/api/profile")
    assert api.status_code == 403 and "second factor" in api.json()["message"]
    browser, totp = totp_enrolled(member)  # a new sign-in (password), then the factor set up
    step = browser.get(MY_APPS)["Location"]
    assert step == "/auth/2fa/reauthenticate/?next=%2Fmy-apps%2F"  # now use it
    assert browser.post(step, {"code": fresh_code(totp, totp.now())}).status_code == 302
    assert browser.get(MY_APPS).status_code == 200
    assert browser.get("/accounts/api/profile").json()["username"] == member.username


def test_an_admin_without_a_factor_cannot_require_one(admin, org):
    """Requiring a second factor of oneself without one would lock one out."""
    response = put(session_of(admin), org, {"mfa_required": "admins"})
    assert response.status_code == 400
    assert "for yourself first" in response.json()["fields"]["mfa_required"][0]


def test_a_user_with_a_factor_and_a_session_without_it_is_held_at_the_portal(member):
    browser = session_of(with_a_factor(member))  # e.g. a session from before it was set up
    assert browser.get(MY_APPS)["Location"] == "/auth/2fa/reauthenticate/?next=%2Fmy-apps%2F"
    assert signed_in_with_a_factor(member).get(MY_APPS).status_code == 200


def test_the_organization_page_sets_the_policy(admin_session, admin, org, member):
    page = admin_session.get(f"/access-management/organizations/{org.id}/")
    assert b"Sign-in policy" in page.content
    url = f"/access-management/organizations/{org.id}/sign-in-policy"
    done = admin_session.post(url, {"mfa_required": "admins"})
    assert done.status_code == 302, done.content
    assert OrgSecurityPolicy.objects.get(organization=org).mfa_required == "admins"
    # A member sees no such panel and cannot post it.
    member_page = session_of(member).get(f"/access-management/organizations/{org.id}/")
    assert b"Sign-in policy" not in member_page.content
    assert session_of(member).post(url, {"mfa_required": "off"}).status_code == 403
    assert OrgSecurityPolicy.objects.get(organization=org).mfa_required == "admins"


def test_the_page_says_why_an_admin_without_a_factor_cannot_require_one(admin, org):
    url = f"/access-management/organizations/{org.id}/sign-in-policy"
    response = session_of(admin).post(url, {"mfa_required": "everyone"})
    assert response.status_code == 200
    assert b"for yourself first" in response.content
    assert not OrgSecurityPolicy.objects.exists()
