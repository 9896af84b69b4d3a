"""`sso_enforced` (SPEC §11): once an org enforces single sign-on, its members get no portal
session, no code at /authorize and no token from `POST /accounts/login` or the password grant
without an SSO sign-in. Enforcing it needs an SSO provider and an administrator linked to it
(no lockout)."""

from __future__ import annotations

import json
import time

import pytest
from django.test import Client

from accounts.models import FederatedIdentity, IdentityProvider
from tests.factories import DEFAULT_PASSWORD
from tests.oauth.code_flow import authorize_url, pkce_pair
from tests.oauth.test_grant_password import password_app, password_grant  # noqa: F401
from tests.oauth.tokenkit import (
    LOGIN_URL,
    isolated_throttle,  # noqa: F401 (autouse fixture)
    post_form,
    post_json,
)

pytestmark = pytest.mark.django_db
MY_APPS = "/my-apps/"  # a page every signed-in user may open (/ sends end users there)


def policy_url(org) -> str:
    return f"/accounts/api/organizations/{org.id}/securityPolicy"


def session(user, *methods: str) -> Client:
    """A session with allauth's records of how it signed in (`socialaccount`: through SSO)."""
    client = Client()
    client.force_login(user)
    store = client.session
    store["account_authentication_methods"] = [
        {"method": method, "at": time.time()} for method in methods
    ]
    store["account_authentication_methods_user"] = str(user.pk)
    store.save()
    return client


def put(client: Client, org, body) -> object:
    return client.put(policy_url(org), json.dumps(body), content_type="application/json")


@pytest.fixture
def sso_provider(org):
    return IdentityProvider.objects.create(
        organization=org,
        name="Company IdP",
        type="oidc",
        config={"issuer": "https://idp.example.com", "client_id": "doorman"},
    )


@pytest.fixture
def enforced(admin, org, sso_provider):
    FederatedIdentity.objects.create(provider=sso_provider, user=admin, subject="admin-sub")
    response = put(session(admin, "socialaccount"), org, {"sso_enforced": True})
    assert response.status_code == 200, response.content
    return sso_provider


def test_enforcing_needs_a_provider_and_an_admin_who_can_still_sign_in(admin, org):
    client = session(admin, "password")
    assert put(client, org, {"sso_enforced": True}).status_code == 400  # no provider yet
    provider = IdentityProvider.objects.create(
        organization=org, name="IdP", type="saml", config={"entity_id": "x"}
    )
    refused = put(client, org, {"sso_enforced": True})
    assert refused.status_code == 400
    assert "Sign in through" in refused.content.decode()
    FederatedIdentity.objects.create(provider=provider, user=admin, subject="admin-sub")
    assert put(client, org, {"sso_enforced": True}).json()["sso_enforced"] is True


def test_a_password_signs_no_member_in_anywhere(enforced, member, password_app):  # noqa: F811
    page = Client().post("/auth/login/", {"login": member.username, "password": DEFAULT_PASSWORD})
    assert page.status_code == 200
    assert "signs you in through its identity provider" in page.content.decode()
    assert "_auth_user_id" not in page.wsgi_request.session

    login = post_json({"username": member.username, "password": DEFAULT_PASSWORD}, url=LOGIN_URL)
    assert login.status_code == 400
    assert login.json()["error"] == "interaction_required"
    assert "access_token" not in login.json()

    grant = post_form(password_grant(password_app, member.username))
    assert grant.status_code == 400
    assert grant.json()["error"] == "interaction_required"


def test_a_session_not_made_through_sso_is_ended(enforced, member):
    client = session(member, "password")
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/auth/login/")
    assert "_auth_user_id" not in client.session
    api = session(member, "mfa").get("/accounts/api/profile")
    assert api.status_code == 403


def test_an_sso_session_works(enforced, member):
    assert session(member, "socialaccount").get(MY_APPS).status_code == 200


def test_authorize_gives_no_code_without_an_sso_sign_in(enforced, member, make_app):
    app = make_app(
        client_name="Reader",
        grant_types=["authorization_code"],
        redirect_uris=["https://reader.example/cb"],
        scopes=["openid"],
    ).app
    url = authorize_url(
        app, challenge=pkce_pair()[1], redirect_uri="https://reader.example/cb", scope="openid"
    )
    response = session(member, "password").get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/auth/login/")
    silent = session(member, "password").get(url + "&prompt=none")
    assert silent.status_code == 302
    assert silent["Location"].startswith("https://reader.example/cb")
    assert "error=login_required" in silent["Location"]
    fed = session(member, "socialaccount").get(url)
    assert fed.status_code == 200  # the consent screen


def test_home_realm_sends_a_linked_local_member_of_an_enforcing_org_to_the_idp(enforced, member):
    from accounts.sso import home_realm

    assert home_realm(member.username) is None  # not linked: nowhere to send them
    FederatedIdentity.objects.create(provider=enforced, user=member, subject="member-sub")
    assert home_realm(member.username) == enforced


def test_the_org_page_enforces_sso_with_a_checkbox(admin, org, sso_provider):
    from accounts.models import OrgSecurityPolicy

    FederatedIdentity.objects.create(provider=sso_provider, user=admin, subject="admin-sub")
    client = session(admin, "socialaccount")
    page = client.get(f"/access-management/organizations/{org.id}/").content.decode()
    assert "sign in through the organization&#x27;s identity provider only" in page.lower()
    url = f"/access-management/organizations/{org.id}/sign-in-policy"
    response = client.post(url, {"mfa_required": "off", "sso_enforced": "on"})
    assert response.status_code == 302
    assert OrgSecurityPolicy.objects.get(organization=org).sso_enforced is True
