"""The Authorize App consent screen in a real browser.

Done when: a user opens an app's authorization URL, signs in on the login page, sees the
consent screen (app, owner, scopes in plain words), clicks Allow and lands on the app's
redirect URI with a code that the token endpoint exchanges for tokens; and, another time,
clicks Deny and lands there with error=access_denied. The app's redirect URI is a tiny
callback page the live server serves next to Doorman (this module is the test URLconf), as the
app's own server would.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.conf import settings
from django.http import HttpResponse
from django.urls import include, path
from django.utils.html import escape

from accounts.access import Access
from accounts.services import organization_bootstrap
from connected_apps.models import Authorization
from connected_apps.services import connected_app_create
from tests.oauth.code_flow import authorize_url, pkce_pair

pytestmark = pytest.mark.browser

PASSWORD = "alice-pass-8f3K2x!"


def callback_page(request):
    """The app's redirect URI: says what came back."""
    outcome = "Signed in to Expense Tracker" if "code" in request.GET else "Not signed in"
    error = escape(request.GET.get("error", ""))
    return HttpResponse(
        f"<!doctype html><title>Expense Tracker</title><h1>{outcome}</h1><p>{error}</p>"
    )


urlpatterns = [
    path("client/callback", callback_page),
    path("", include("config.urls")),
]


@pytest.fixture
def callback_url(settings, live_server) -> str:
    settings.ROOT_URLCONF = __name__
    return f"{live_server.url}/client/callback"


@pytest.fixture
def alice_and_app(transactional_db, callback_url):
    setup = organization_bootstrap(
        org_name="Acme", username="alice", password=PASSWORD, email="alice@acme.example"
    )
    created = connected_app_create(
        access=Access(user=setup.admin),
        owner=setup.organization,
        client_name="Expense Tracker",
        grant_types=["authorization_code", "refresh_token"],
        redirect_uris=[callback_url],  # http is fine on localhost (SPEC §2)
        scopes=["openid", "profile", "email", "view:environment"],
        website_url="https://tracker.example/about",
    )
    return setup.admin, created


def sign_in_and_see_the_consent_screen(page, url: str, screenshot) -> None:
    from playwright.sync_api import expect

    page.goto(url)
    page.wait_for_url(re.compile(r"/auth/login/\?next="))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    screenshot(page, "login")
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(re.compile(r"/accounts/api/v2/oauth2/authorize\?"))
    expect(page.get_by_role("heading", name="Authorize App")).to_be_visible()


def callback_params(page, callback_url: str, state: str = "state-123") -> dict[str, str]:
    page.wait_for_url(re.compile(rf"^{re.escape(callback_url)}\?.*state={state}"))
    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}


def test_allow_lands_on_the_redirect_uri_with_a_code(
    page, live_server, callback_url, alice_and_app, screenshot
):
    from playwright.sync_api import expect

    alice, created = alice_and_app
    verifier, challenge = pkce_pair()
    url = authorize_url(
        created.app,
        challenge=challenge,
        redirect_uri=callback_url,
        scope="openid email view:environment",
        nonce="n-42",
    )
    sign_in_and_see_the_consent_screen(page, url, screenshot)

    expect(page.get_by_text("Expense Tracker wants to access your account")).to_be_visible()
    expect(page.get_by_role("link", name="https://tracker.example/about")).to_be_visible()
    scopes = page.get_by_role("list", name="Expense Tracker will be able to")
    expect(scopes.get_by_role("listitem")).to_have_count(3)
    expect(scopes).to_contain_text("Know your username and unique id")
    expect(scopes).to_contain_text("Read your email address")
    expect(scopes).to_contain_text("View environments")
    expect(page.get_by_role("button", name="Allow", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Deny", exact=True)).to_be_visible()
    screenshot(page, "consent")

    page.get_by_role("button", name="Allow", exact=True).click()
    params = callback_params(page, callback_url)
    expect(page.get_by_role("heading", name="Signed in to Expense Tracker")).to_be_visible()
    screenshot(page, "callback")
    assert params["code"]
    assert params["iss"] == settings.DOORMAN_ISSUER
    assert Authorization.objects.get(user=alice, app=created.app).scopes == [
        "email",
        "openid",
        "view:environment",
    ]

    # The app's backend exchanges the code over real HTTP.
    response = requests.post(
        f"{live_server.url}/accounts/api/v2/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": callback_url,
            "code_verifier": verifier,
            "client_id": created.app.client_id,
            "client_secret": created.client_secret,
        },
        timeout=10,
    )
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["access_token"] and tokens["id_token"]

    # Next time the consent is remembered: straight back to the app, no screen.
    page.goto(
        authorize_url(
            created.app,
            challenge=pkce_pair()[1],
            redirect_uri=callback_url,
            scope="openid",
            state="again",
        )
    )
    assert callback_params(page, callback_url, state="again")["code"]


def test_deny_lands_on_the_redirect_uri_with_access_denied(
    page, callback_url, alice_and_app, screenshot
):
    from playwright.sync_api import expect

    _alice, created = alice_and_app
    url = authorize_url(
        created.app, challenge=pkce_pair()[1], redirect_uri=callback_url, scope="openid profile"
    )
    sign_in_and_see_the_consent_screen(page, url, screenshot)
    screenshot(page, "consent")

    page.get_by_role("button", name="Deny", exact=True).click()
    params = callback_params(page, callback_url)
    expect(page.get_by_role("heading", name="Not signed in")).to_be_visible()
    screenshot(page, "denied")
    assert params["error"] == "access_denied"
    assert "code" not in params
    assert not Authorization.objects.exists()


def test_an_unregistered_redirect_uri_shows_an_error_page(
    page, live_server, alice_and_app, screenshot
):
    from playwright.sync_api import expect

    _alice, created = alice_and_app
    url = authorize_url(
        created.app, challenge=pkce_pair()[1], redirect_uri="https://evil.example/callback"
    )
    response = page.goto(url)
    assert response is not None and response.status == 400
    expect(page.get_by_role("heading", name="This request cannot be completed")).to_be_visible()
    assert urlsplit(page.url).netloc == urlsplit(live_server.url).netloc
    screenshot(page, "error")
