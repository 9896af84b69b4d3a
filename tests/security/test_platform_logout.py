"""Platform tokens can be revoked (SPEC §4 `POST /accounts/logout`; issue 12 item 6).

A user's own platform token (`POST /accounts/login`) carries `full`: whoever copied it (a
shared terminal, a log line, a CI variable) acts as that user until it expires, unless the
user can end it. Logging out must stop it on the next request, on every worker — including
one that resolved it a moment ago and remembers it — and in introspection.
"""

from __future__ import annotations

import pytest
from django.test import Client

from audit.models import AuditAction, AuditEvent
from oauth.api import LOGOUT_APPS_REFUSED
from oauth.models import AccessToken
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

LOGOUT = "/accounts/logout"


@pytest.fixture
def web(http):
    return http()


@pytest.fixture
def resource_server(make_app):
    """An app of the same org that introspects the tokens it is shown (RFC 7662)."""
    return make_app(
        client_name="Resource Server",
        grant_types=["client_credentials"],
        redirect_uris=[],
        scopes=[],
    )


def login(web, urls, user) -> str:
    response = web.post(
        urls["login"], json={"username": user.username, "password": DEFAULT_PASSWORD}, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def introspected(web, urls, app, token: str) -> dict:
    body = {"token": token, "client_id": app.app.client_id, "client_secret": app.client_secret}
    response = web.post(urls["introspect"], data=body, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def test_logout_ends_the_platform_token_everywhere(web, urls, member, resource_server):
    token = login(web, urls, member)
    for _ in range(2):  # this worker now remembers the token
        assert web.get(urls["profile"], headers=bearer(token), timeout=10).status_code == 200
    assert introspected(web, urls, resource_server, token)["active"] is True

    response = web.post(urls["logout"], headers=bearer(token), timeout=10)
    assert response.status_code == 204, response.text
    assert response.content == b""

    profile = web.get(urls["profile"], headers=bearer(token), timeout=10)
    assert profile.status_code == 401
    assert 'error="invalid_token"' in profile.headers["WWW-Authenticate"]
    assert profile.json()["error"] == "invalid_token"
    assert introspected(web, urls, resource_server, token) == {"active": False}
    again = web.post(urls["logout"], headers=bearer(token), timeout=10)
    assert again.status_code == 401
    assert not AccessToken.objects.exists()


def test_logout_ends_only_that_token(web, urls, member):
    copied, kept = login(web, urls, member), login(web, urls, member)
    assert web.get(urls["profile"], headers=bearer(kept), timeout=10).status_code == 200
    assert web.post(urls["logout"], headers=bearer(copied), timeout=10).status_code == 204
    assert web.get(urls["profile"], headers=bearer(kept), timeout=10).status_code == 200


def test_logout_is_audited_without_the_token(web, urls, member, org):
    token = login(web, urls, member)
    web.post(urls["logout"], headers={**bearer(token), "User-Agent": "cli/1.0"}, timeout=10)
    event = AuditEvent.objects.get(action=AuditAction.TOKEN_REVOKED)
    assert event.actor_user == member
    assert event.organization_id == org.id
    assert event.details == {"reason": "logout", "token_type": "access_token"}
    assert event.user_agent == "cli/1.0"
    assert token not in str(event.__dict__)


def test_no_token_or_a_bad_one_is_a_json_401(web, urls):
    missing = web.post(urls["logout"], timeout=10)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="doorman"'
    assert missing.json()["error"] == "unauthorized"
    for header in ("Bearer not-a-token", "Bearer", "Basic dXNlcjpwYXNz"):
        response = web.post(urls["logout"], headers={"Authorization": header}, timeout=10)
        assert response.status_code == 401, header
        assert response.headers["Content-Type"].startswith("application/json")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_other_methods_are_a_json_405(web, urls, member):
    token = login(web, urls, member)
    for method in ("GET", "PUT", "DELETE"):
        response = web.request(method, urls["logout"], headers=bearer(token), timeout=10)
        assert response.status_code == 405, method
        assert response.json()["error"] == "method_not_allowed"
        assert response.headers["Allow"] == "POST"
    anonymous = web.get(urls["logout"], timeout=10)
    assert anonymous.status_code == 405
    assert web.get(urls["profile"], headers=bearer(token), timeout=10).status_code == 200


def test_no_csrf_token_needed_and_a_portal_session_is_no_token(web, urls, member):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(member)
    assert browser.post(LOGOUT).status_code == 401  # the endpoint only knows bearer tokens
    token = login(web, urls, member)
    cli = Client(enforce_csrf_checks=True)
    assert cli.post(LOGOUT, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 204


def test_an_apps_token_is_refused_and_left_alone(web, urls, make_app, member, org):
    app = make_app(grant_types=["password", "refresh_token"], redirect_uris=[], scopes=["profile"])
    tokens = web.post(
        urls["token"],
        data={
            "grant_type": "password",
            "username": member.username,
            "password": DEFAULT_PASSWORD,
            "client_id": app.app.client_id,
            "client_secret": app.client_secret,
        },
        timeout=10,
    ).json()
    response = web.post(urls["logout"], headers=bearer(tokens["access_token"]), timeout=10)
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_request", "message": LOGOUT_APPS_REFUSED}
    profile = web.get(urls["profile"], headers=bearer(tokens["access_token"]), timeout=10)
    assert profile.status_code == 200
