"""The <doorman-signin> web component on a third-party site, in a real browser.

Done when: a page on another origin (a tiny http.server on 127.0.0.1; Doorman's live server is
on localhost) loads the component from Doorman, the user clicks "Sign in with Doorman", signs
in, clicks Allow, and lands on the app's callback page, where the component checks the state
and emits the code and its PKCE verifier; the test, acting as the app's backend, redeems them
with the client secret for tokens whose id_token nonce the component's verifyNonce accepts.
Deny ends in a doorman-signin-error event with access_denied, and a response whose state was
tampered with ends in an error event, never in a code.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import jwt
import pytest
import requests

from accounts.access import Access
from accounts.services import organization_bootstrap
from connected_apps.models import Authorization
from connected_apps.services import connected_app_create

pytestmark = pytest.mark.browser

PASSWORD = "alice-pass-8f3K2x!"
SCOPES = "openid profile email"

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{title}</title>
  <script src="{script}"></script>
</head>
<body>
  <h1>{title}</h1>
  <doorman-signin client-id="{client_id}" redirect-uri="{redirect_uri}"
                  scopes="{scopes}"></doorman-signin>
  <p id="outcome">waiting</p>
  <script>
    // What the app's page does with the component's events: here, record them.
    window.signinEvents = [];
    function record(event) {{
      window.signinEvents.push({{type: event.type, detail: event.detail}});
      document.getElementById("outcome").textContent =
        event.type === "doorman-signin" ? "signed in" : "error: " + event.detail.error;
    }}
    document.addEventListener("doorman-signin", record);
    document.addEventListener("doorman-signin-error", record);
  </script>
</body>
</html>
"""


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@dataclass
class ThirdPartySite:
    """Expense Tracker's own web server: its home page and its OAuth callback page."""

    url: str
    root: Path

    @property
    def callback_url(self) -> str:
        return f"{self.url}/callback.html"

    def publish(self, *, script: str, client_id: str) -> None:
        for name, title in (("index.html", "Expense Tracker"), ("callback.html", "Signing in")):
            (self.root / name).write_text(
                PAGE.format(
                    title=title,
                    script=script,
                    client_id=client_id,
                    redirect_uri=self.callback_url,
                    scopes=SCOPES,
                )
            )


@pytest.fixture
def third_party(tmp_path) -> Iterator[ThirdPartySite]:
    handler = functools.partial(QuietHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield ThirdPartySite(url=f"http://127.0.0.1:{server.server_port}", root=tmp_path)
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def issuer(settings, live_server) -> str:
    """Discovery, `iss` and the id_token name the live server, as DOORMAN_BASE_URL would."""
    issuer = f"{live_server.url}/accounts/api/v2/oauth2"
    settings.DOORMAN_ISSUER = issuer
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "OIDC_ISS_ENDPOINT": issuer}
    return issuer


@pytest.fixture
def tracker(transactional_db, live_server, issuer, third_party):
    """Alice of Acme, and Acme's Expense Tracker app whose pages live on the third party."""
    assert urlsplit(live_server.url).netloc != urlsplit(third_party.url).netloc
    setup = organization_bootstrap(
        org_name="Acme", username="alice", password=PASSWORD, email="alice@acme.example"
    )
    created = connected_app_create(
        access=Access(user=setup.admin),
        owner=setup.organization,
        client_name="Expense Tracker",
        grant_types=["authorization_code", "refresh_token"],
        redirect_uris=[third_party.callback_url],
        scopes=["openid", "profile", "email"],
    )
    third_party.publish(
        script=f"{live_server.url}/static/js/doorman-signin.js", client_id=created.app.client_id
    )
    return created


def start_and_sign_in(page, third_party, screenshot) -> None:
    """From the third-party home page to Doorman's consent screen."""
    from playwright.sync_api import expect

    page.goto(f"{third_party.url}/index.html")
    button = page.get_by_role("button", name="Sign in with Doorman")
    expect(button).to_be_enabled()
    screenshot(page, "third-party-page")
    button.click()
    page.wait_for_url(re.compile(r"/auth/login/\?next="))
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(re.compile(r"/accounts/api/v2/oauth2/authorize\?"))
    expect(page.get_by_role("heading", name="Authorize App")).to_be_visible()


def authorization_request(page) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}


def recorded_events(page, third_party, outcome: str) -> list[dict]:
    from playwright.sync_api import expect

    page.wait_for_url(re.compile(rf"^{re.escape(third_party.callback_url)}"))
    expect(page.locator("#outcome")).to_have_text(outcome)
    return page.evaluate("window.signinEvents")


def stored_flows(page) -> list[str]:
    return page.evaluate("Object.keys(sessionStorage).filter(k => k.startsWith('doorman-signin:'))")


def test_allow_emits_the_code_and_verifier_that_the_backend_redeems(
    page, live_server, issuer, third_party, tracker, screenshot
):
    start_and_sign_in(page, third_party, screenshot)
    sent = authorization_request(page)
    assert sent["response_type"] == "code"
    assert sent["client_id"] == tracker.app.client_id
    assert sent["redirect_uri"] == third_party.callback_url
    assert sent["scope"] == SCOPES
    assert sent["code_challenge_method"] == "S256"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", sent["code_challenge"])
    assert len(sent["state"]) >= 43 and len(sent["nonce"]) >= 43
    screenshot(page, "consent")

    page.get_by_role("button", name="Allow", exact=True).click()
    events = recorded_events(page, third_party, "signed in")
    screenshot(page, "callback")
    assert [event["type"] for event in events] == ["doorman-signin"]
    detail = events[0]["detail"]
    assert detail["code"]
    assert detail["nonce"] == sent["nonce"]
    assert detail["redirectUri"] == third_party.callback_url
    assert 43 <= len(detail["codeVerifier"]) <= 128
    # The response is gone from the address bar, and its state can never be used again.
    assert page.url == third_party.callback_url
    assert stored_flows(page) == []

    # The app's backend redeems the code with its secret and the verifier.
    response = requests.post(
        f"{issuer}/token",
        data={
            "grant_type": "authorization_code",
            "code": detail["code"],
            "redirect_uri": detail["redirectUri"],
            "code_verifier": detail["codeVerifier"],
        },
        auth=(tracker.app.client_id, tracker.client_secret),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["access_token"]
    id_token = tokens["id_token"]
    # The backend verifies the signature; the component checks the nonce.
    signing_key = jwt.PyJWKClient(f"{issuer}/jwks").get_signing_key_from_jwt(id_token)
    claims = jwt.decode(
        id_token,
        signing_key.key,
        algorithms=["RS256"],
        audience=tracker.app.client_id,
        issuer=issuer,
    )
    assert claims["nonce"] == detail["nonce"]
    assert page.evaluate("token => DoormanSignin.verifyNonce(token)", id_token) is True
    forged = jwt.encode({"nonce": "someone-elses"}, "k" * 32, algorithm="HS256")
    assert page.evaluate("token => DoormanSignin.verifyNonce(token)", forged) is False
    assert page.evaluate("DoormanSignin.verifyNonce('not a jwt')") is False
    assert Authorization.objects.filter(app=tracker.app).count() == 1


def test_deny_emits_an_access_denied_error_and_no_code(page, third_party, tracker, screenshot):
    start_and_sign_in(page, third_party, screenshot)
    page.get_by_role("button", name="Deny", exact=True).click()
    events = recorded_events(page, third_party, "error: access_denied")
    screenshot(page, "denied")
    assert [event["type"] for event in events] == ["doorman-signin-error"]
    assert events[0]["detail"]["error"] == "access_denied"
    assert "code" not in events[0]["detail"]
    assert stored_flows(page) == []
    assert not Authorization.objects.exists()


def test_a_tampered_state_is_an_error_never_a_code(page, third_party, tracker, screenshot):
    start_and_sign_in(page, third_party, screenshot)
    parts = urlsplit(page.url)
    query = {**authorization_request(page), "state": "forged-by-an-attacker"}
    page.goto(urlunsplit(parts._replace(query=urlencode(query))))
    page.get_by_role("button", name="Allow", exact=True).click()

    events = recorded_events(page, third_party, "error: invalid_state")
    screenshot(page, "tampered")
    assert [event["type"] for event in events] == ["doorman-signin-error"]
    assert "code" not in events[0]["detail"]
    assert "code=" not in page.url


def test_a_response_replayed_on_the_callback_page_is_refused(page, third_party, tracker):
    """Nothing was started in this tab: a code pasted into the callback URL is not accepted."""
    page.goto(f"{third_party.callback_url}?code=stolen&state=guessed")
    events = recorded_events(page, third_party, "error: invalid_state")
    assert [event["type"] for event in events] == ["doorman-signin-error"]


def test_the_playground_runs_the_whole_flow_when_it_is_the_redirect_uri(
    page, live_server, issuer, screenshot, transactional_db
):
    """A developer registers the playground's URL on their app, picks the app, clicks the live
    button, allows, and the playground shows the code and verifier it got back."""
    from playwright.sync_api import expect

    playground = f"{live_server.url}/developer/playground"
    setup = organization_bootstrap(
        org_name="Acme", username="alice", password=PASSWORD, email="alice@acme.example"
    )
    created = connected_app_create(
        access=Access(user=setup.admin),
        owner=setup.organization,
        client_name="Expense Tracker",
        grant_types=["authorization_code"],
        redirect_uris=[playground],
        scopes=["openid", "profile", "view:environment"],
    )
    page.goto("/developer/playground")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="Sign-in button playground")).to_be_visible()
    page.get_by_label("Your apps").select_option(label="Expense Tracker")
    page.get_by_role("button", name="Use this app").click()
    expect(page.get_by_label("Client ID")).to_have_value(created.app.client_id)
    expect(page.get_by_label("Scopes")).to_have_value("openid profile")
    screenshot(page, "playground")

    page.get_by_role("button", name="Sign in with Doorman").click()
    page.wait_for_url(re.compile(r"/accounts/api/v2/oauth2/authorize\?"))
    page.get_by_role("button", name="Allow", exact=True).click()
    page.wait_for_url(re.compile(rf"^{re.escape(playground)}"))
    result = page.get_by_role("status").filter(has_text="The state matched")
    expect(result).to_be_visible()
    expect(result).to_contain_text("code_verifier")
    screenshot(page, "playground-result")
    assert "code=" not in page.url


def test_an_issuer_without_discovery_is_an_error_and_the_page_stays(
    page, live_server, third_party, tracker
):
    from playwright.sync_api import expect

    (third_party.root / "broken.html").write_text(
        (third_party.root / "index.html")
        .read_text()
        .replace("<doorman-signin ", f'<doorman-signin issuer="{live_server.url}/nowhere" ')
    )
    page.goto(f"{third_party.url}/broken.html")
    page.get_by_role("button", name="Sign in with Doorman").click()
    expect(page.locator("#outcome")).to_have_text("error: discovery_failed")
    assert urlsplit(page.url).path == "/broken.html"
    assert stored_flows(page) == []
    expect(page.get_by_role("button", name="Sign in with Doorman")).to_be_enabled()


def test_without_a_client_id_the_button_is_disabled(page, third_party, tracker):
    from playwright.sync_api import expect

    (third_party.root / "unset.html").write_text(
        (third_party.root / "index.html").read_text().replace(tracker.app.client_id, "")
    )
    page.goto(f"{third_party.url}/unset.html")
    expect(page.get_by_role("button", name="Sign in with Doorman")).to_be_disabled()
