"""Attacks played over real HTTP (`live_server` + requests/Authlib), one module per class of
attack (issue 12, SPEC §10). Each test is written as the attacker would go about it and
asserts that the attack fails; every one of them succeeded against the code before the fix."""

from __future__ import annotations

import pytest
import requests

from tests.factories import (
    DEFAULT_PASSWORD,
    AdminRoleFactory,
    IdentityProviderFactory,
    OrganizationFactory,
    PermissionGrantFactory,
    UserFactory,
)
from tests.oauth.tokenkit import (
    INTROSPECT_URL,
    PROFILE_URL,
    REVOKE_URL,
    TOKEN_URL,
    isolated_throttle,  # noqa: F401 (autouse fixture)
)

AUTHORIZE_URL = "/accounts/api/v2/oauth2/authorize"
API = "/accounts/api"


@pytest.fixture(autouse=True)
def plain_http_is_fine_here(monkeypatch):
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")  # live_server speaks http


@pytest.fixture
def http():
    """A requests.Session closed after the test (a kept-alive connection would keep its
    live-server thread, and that thread's database connection, open past the test run)."""
    sessions: list[requests.Session] = []

    def make() -> requests.Session:
        session = requests.Session()
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        session.close()


@pytest.fixture
def urls(live_server):
    base = live_server.url
    return {
        "base": base,
        "api": base + API,
        "token": base + TOKEN_URL,
        "authorize": base + AUTHORIZE_URL,
        "revoke": base + REVOKE_URL,
        "introspect": base + INTROSPECT_URL,
        "profile": base + PROFILE_URL,
        "login": base + "/accounts/login",
        "logout": base + "/accounts/logout",
    }


@pytest.fixture
def tenant(db):
    """Acme: `root_admin` (Organization Administrator), business group `team`, `member`
    ("bg-dev") holding only manage:connected_apps in the team, identity provider `idp`."""
    org = OrganizationFactory(name="Acme")
    root_admin = UserFactory(organization=org, username="root-admin", email="root@acme.test")
    AdminRoleFactory(user=root_admin, organization=org)
    team = OrganizationFactory(name="Team", parent=org)
    member = UserFactory(organization=org, username="bg-dev")
    PermissionGrantFactory(user=member, organization=team, permission="manage:connected_apps")
    idp = IdentityProviderFactory(organization=org, name="Corporate SSO")
    return {"org": org, "team": team, "root_admin": root_admin, "member": member, "idp": idp}


@pytest.fixture
def signed_in(http, urls):
    """`signed_in(username)`: the Authorization header of a fresh platform token (POST
    /accounts/login), as an attacker holding that account's password would have."""

    def make(username: str) -> dict[str, str]:
        response = http().post(
            urls["login"], json={"username": username, "password": DEFAULT_PASSWORD}
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    return make
