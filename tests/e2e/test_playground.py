"""The developer playground runs the whole authorization-code flow, in a real browser.

Done when (issue 16): a developer whose app registered the playground's URL picks the app,
clicks the live button, allows, and comes back to the playground, which shows the code;
pasting the client secret and clicking "Exchange the code" sends the token request from the
page (the PKCE verifier never left the tab) and shows the token response with the ID token's
header and claims decoded; the access token works at userinfo, from the page and from outside.
A wrong secret shows the token endpoint's RFC 6749 error, and the code is still good for the
right one. The secret is in no URL, no storage, and no audit row.
"""

from __future__ import annotations

import json
import re

import pytest
import requests

from accounts.access import Access
from accounts.services import organization_bootstrap
from audit.models import AuditEvent
from connected_apps.services import connected_app_create
from tests.e2e.axe import axe_violations

pytestmark = pytest.mark.browser

PASSWORD = "alice-pass-8f3K2x!"
SCOPES = "openid profile email offline_access"


@pytest.fixture
def issuer(settings, live_server) -> str:
    """Discovery, `iss` and the id_token name the live server, as DOORMAN_BASE_URL would."""
    issuer = f"{live_server.url}/accounts/api/v2/oauth2"
    settings.DOORMAN_ISSUER = issuer
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "OIDC_ISS_ENDPOINT": issuer}
    return issuer


@pytest.fixture
def playground_app(transactional_db, live_server, issuer):
    """Alice of Acme, and Acme's Expense Tracker whose redirect URI is the playground."""
    setup = organization_bootstrap(
        org_name="Acme", username="alice", password=PASSWORD, email="alice@acme.example"
    )
    return connected_app_create(
        access=Access(user=setup.admin),
        owner=setup.organization,
        client_name="Expense Tracker",
        grant_types=["authorization_code", "refresh_token"],
        redirect_uris=[f"{live_server.url}/developer/playground"],
        scopes=SCOPES.split(),
    )


def come_back_with_a_code(page, live_server, app, screenshot) -> None:
    """Sign in at the playground, start the flow with the app, allow, and be back."""
    from playwright.sync_api import expect

    page.goto(f"/developer/playground?app={app.client_id}")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_label("Client ID")).to_have_value(app.client_id)
    expect(page.get_by_label("Scopes")).to_have_value(SCOPES)
    page.get_by_role("button", name="Sign in with Doorman").click()
    page.wait_for_url(re.compile(r"/accounts/api/v2/oauth2/authorize\?"))
    page.get_by_role("button", name="Allow", exact=True).click()
    page.wait_for_url(re.compile(rf"^{re.escape(live_server.url)}/developer/playground"))
    expect(page.get_by_role("status").filter(has_text="The state matched")).to_be_visible()
    expect(page.get_by_role("button", name="Exchange the code")).to_be_visible()
    screenshot(page, "code")
    assert "code=" not in page.url


def shown_value(page, name: str) -> str:
    """The value the page shows next to `name` in a list of values."""
    return page.locator(f"dt:text-is('{name}') + dd .playground-value").inner_text()


def json_block(page, label: str) -> dict:
    return json.loads(page.get_by_label(label, exact=True).text_content())


def test_the_playground_exchanges_the_code_and_the_token_works_at_userinfo(
    page, live_server, issuer, playground_app, screenshot
):
    from playwright.sync_api import expect

    app, secret = playground_app.app, playground_app.client_secret
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    come_back_with_a_code(page, live_server, app, screenshot)
    # The page's code samples copy as they read.
    page.get_by_role("button", name="Copy the token request").click()
    expect(page.get_by_text("Copied", exact=True).first).to_be_visible()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.locator("#token-request-snippet").text_content().strip()
    assert "grant_type=authorization_code" in copied
    code = shown_value(page, "code")
    # The element forgot the verifier in sessionStorage when the response came back.
    assert page.evaluate("Object.keys(sessionStorage)") == []

    page.get_by_label("Client secret").fill(secret)
    page.get_by_role("button", name="Exchange the code").click()
    expect(page.get_by_role("heading", name="Token response")).to_be_visible()
    screenshot(page, "tokens")
    expect(page.get_by_role("button", name="Exchange the code")).to_be_hidden()
    assert page.get_by_label("Client secret").input_value() == ""
    assert shown_value(page, "token_type") == "Bearer"
    assert shown_value(page, "expires_in").startswith("3600 ")
    assert sorted(shown_value(page, "scope").split()) == sorted(SCOPES.split())
    assert shown_value(page, "refresh_token")
    header = json_block(page, "ID token header")
    assert header["alg"] == "RS256" and header["kid"]
    claims = json_block(page, "ID token claims")
    assert claims["iss"] == issuer
    assert claims["aud"] == app.client_id
    assert claims["preferred_username"] == "alice"
    expect(page.get_by_text("The nonce claim is the one this flow sent.")).to_be_visible()
    assert json_block(page, "Raw token response")["id_token"] == shown_value(page, "id_token")

    access_token = shown_value(page, "access_token")
    page.get_by_role("button", name="Copy access token").click()
    expect(page.get_by_role("status").filter(has_text="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == access_token

    page.get_by_role("button", name="Call userinfo").click()
    userinfo = json_block(page, "Userinfo response")
    screenshot(page, "userinfo")
    assert userinfo["sub"] == claims["sub"]
    assert userinfo["email"] == "alice@acme.example"
    # The same token, from outside the browser.
    outside = requests.get(
        f"{issuer}/userinfo", headers={"Authorization": f"Bearer {access_token}"}, timeout=10
    )
    assert outside.status_code == 200, outside.text
    assert outside.json()["sub"] == claims["sub"]
    # The code was used once: a replay is refused.
    replay = requests.post(
        f"{issuer}/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": "x"},
        auth=(app.client_id, secret),
        timeout=10,
    )
    assert replay.json()["error"] == "invalid_grant"
    assert secret not in page.url
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0

    # Every step shown, at a desk's width and a phone's: accessible, and nothing sticks out.
    page.get_by_text("Raw response").click()
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 800})
        # Narrowed, the side navigation slides into its drawer (0.2 s): wait for it to settle.
        page.wait_for_function(
            "document.documentElement.scrollWidth <= window.innerWidth", timeout=5000
        )
        assert axe_violations(page) == [], width
    screenshot(page, "phone")


def test_a_wrong_secret_shows_the_oauth_error_and_the_right_one_still_works(
    page, live_server, issuer, playground_app, screenshot
):
    from playwright.sync_api import expect

    app, secret = playground_app.app, playground_app.client_secret
    come_back_with_a_code(page, live_server, app, screenshot)
    wrong = "not-the-secret-" + secret[:8]

    page.get_by_label("Client secret").fill(wrong)
    page.get_by_role("button", name="Exchange the code").click()
    error = page.get_by_role("alert").filter(has_text="refused the exchange")
    expect(error).to_be_visible()
    screenshot(page, "wrong-secret")
    expect(error).to_contain_text("invalid_client")
    expect(error).to_contain_text("401")
    expect(error).to_contain_text("Check the client secret")
    expect(page.get_by_role("heading", name="Token response")).to_have_count(0)
    assert page.get_by_label("Client secret").input_value() == ""

    # The code was not spent on the refused request.
    page.get_by_label("Client secret").fill(secret)
    page.get_by_role("button", name="Exchange the code").click()
    expect(page.get_by_role("heading", name="Token response")).to_be_visible()
    expect(error).to_be_hidden()

    details = json.dumps(list(AuditEvent.objects.values_list("details", flat=True)))
    assert secret not in details and wrong not in details
