"""End to end over real HTTP (`live_server`) with a real OAuth client library (Authlib):
every grant, every client authentication method, refresh, introspection and revocation.

The authorization-code flow is driven the way a browser would: open the authorization URL,
sign in on the login page it redirects to, click Allow on the consent screen, and take the
code from the redirect without following it."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import AssertionSession, OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc.jwk import RSAKey

from tests.factories import DEFAULT_PASSWORD, IdentityProviderFactory
from tests.oauth.tokenkit import (
    INTROSPECT_URL,
    JWT_BEARER,
    PROFILE_URL,
    REVOKE_URL,
    TOKEN_URL,
    isolated_throttle,  # noqa: F401 (autouse fixture)
    private_pem,
    public_pem,
    rsa_key,
)

pytestmark = pytest.mark.django_db(transaction=True)

AUTHORIZE_URL = "/accounts/api/v2/oauth2/authorize"
REDIRECT_URI = "https://client.example/callback"


@pytest.fixture(autouse=True)
def plain_http_is_fine_here(monkeypatch):
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")  # live_server speaks http


@pytest.fixture
def opened():
    """Sessions to close after the test: a kept-alive connection would keep its live-server
    thread, and that thread's database connection, open past the test run."""
    sessions: list[requests.Session] = []
    yield sessions.append
    for session in sessions:
        session.close()


@pytest.fixture
def urls(live_server):
    base = live_server.url
    return {
        "token": base + TOKEN_URL,
        "authorize": base + AUTHORIZE_URL,
        "revoke": base + REVOKE_URL,
        "introspect": base + INTROSPECT_URL,
        "profile": base + PROFILE_URL,
    }


class _FormsParser(HTMLParser):
    """Every form on a page: its action and the names of its inputs and buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self._form: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self._form = {"action": attrs.get("action"), "fields": {}, "names": set()}
            self.forms.append(self._form)
        elif tag in ("input", "button") and self._form is not None and attrs.get("name"):
            self._form["names"].add(attrs["name"])
            if tag == "input":
                self._form["fields"][attrs["name"]] = attrs.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None


def submit_form(
    http: requests.Session, page: requests.Response, having: str, **values
) -> requests.Response:
    """Post the page's form that has a field or button named `having`, as a browser would
    (hidden fields and CSRF token included)."""
    parser = _FormsParser()
    parser.feed(page.text)
    form = next(f for f in parser.forms if having in f["names"])
    target = urljoin(page.url, form["action"]) if form["action"] else page.url
    return http.post(target, data={**form["fields"], **values}, allow_redirects=False)


def sign_in_and_allow(authorization_url: str, username: str) -> str:
    """Open the authorization URL, sign in, Allow; the redirect back with the code."""
    with requests.Session() as http:
        return _sign_in_and_allow(http, authorization_url, username)


def _sign_in_and_allow(http: requests.Session, authorization_url: str, username: str) -> str:
    login_page = http.get(authorization_url)  # → the sign-in page, ?next=…
    assert login_page.status_code == 200, login_page.status_code
    signed_in = submit_form(http, login_page, "password", login=username, password=DEFAULT_PASSWORD)
    assert signed_in.status_code == 302, signed_in.status_code
    consent = http.get(urljoin(login_page.url, signed_in.headers["Location"]))
    assert consent.status_code == 200, consent.status_code
    assert "Allow" in consent.text
    redirect = submit_form(http, consent, "allow", allow="true")
    assert redirect.status_code == 302, redirect.status_code
    location = redirect.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    return location


# -- client_credentials ---------------------------------------------------------------------------
@pytest.mark.parametrize("auth_method", ["client_secret_basic", "client_secret_post"])
def test_client_credentials(urls, opened, cc_app, admin, auth_method):
    session = OAuth2Session(
        cc_app.app.client_id, cc_app.client_secret, token_endpoint_auth_method=auth_method
    )
    opened(session)
    token = session.fetch_token(urls["token"], grant_type="client_credentials")
    assert token["token_type"] == "Bearer"
    assert "refresh_token" not in token
    profile = session.get(urls["profile"])
    assert profile.status_code == 200
    assert profile.json()["username"] == admin.username


def test_client_credentials_with_private_key_jwt(urls, opened, make_app, org):
    key = rsa_key()
    app = make_app(
        client_name="Keyed robot",
        grant_types=["client_credentials"],
        redirect_uris=[],
        public_keys=[public_pem(key)],
        scopes=[{"scope": "read:organization", "context_params": {"org": str(org.id)}}],
    )
    session = OAuth2Session(
        app.app.client_id, private_pem(key), token_endpoint_auth_method="private_key_jwt"
    )
    opened(session)
    session.register_client_auth_method(PrivateKeyJWT(urls["token"]))
    token = session.fetch_token(urls["token"], grant_type="client_credentials")
    assert token["scope"] == "profile read:organization"
    assert session.get(urls["profile"]).status_code == 200
    # A second fetch signs a new assertion (new jti) and succeeds too.
    assert session.fetch_token(urls["token"], grant_type="client_credentials")["access_token"]


def test_wrong_secret_is_an_oauth_error_for_the_library(urls, opened, cc_app):
    session = OAuth2Session(cc_app.app.client_id, "wrong")
    opened(session)
    with pytest.raises(OAuthError) as raised:
        session.fetch_token(urls["token"], grant_type="client_credentials")
    assert raised.value.error == "invalid_client"


# -- password and refresh -------------------------------------------------------------------------
def test_password_then_refresh_then_revoke(urls, opened, make_app, member):
    app = make_app(
        client_name="Password App",
        grant_types=["password", "refresh_token"],
        redirect_uris=[],
        scopes=["profile", "view:environment"],
    )
    session = OAuth2Session(app.app.client_id, app.client_secret, scope="profile")
    opened(session)
    token = session.fetch_token(urls["token"], username=member.username, password=DEFAULT_PASSWORD)
    assert token["scope"] == "profile"
    assert session.get(urls["profile"]).json()["username"] == member.username

    first_refresh = token["refresh_token"]
    refreshed = session.refresh_token(urls["token"])
    assert refreshed["refresh_token"] != first_refresh
    assert session.get(urls["profile"]).status_code == 200

    introspection = session.introspect_token(urls["introspect"], refreshed["access_token"])
    assert introspection.json()["active"] is True
    assert introspection.json()["username"] == member.username

    assert session.revoke_token(urls["revoke"], refreshed["refresh_token"]).status_code == 200
    assert session.get(urls["profile"]).status_code == 401
    introspection = session.introspect_token(urls["introspect"], refreshed["access_token"])
    assert introspection.json() == {"active": False}


# -- authorization_code + PKCE --------------------------------------------------------------------
def test_authorization_code_with_pkce_then_refresh(urls, opened, code_app, member):
    session = OAuth2Session(
        code_app.app.client_id,
        code_app.client_secret,
        scope="openid profile offline_access",
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
    )
    opened(session)
    verifier = generate_token(64)
    authorization_url, _state = session.create_authorization_url(
        urls["authorize"], code_verifier=verifier, nonce="n-0S6_WzA2Mj"
    )
    location = sign_in_and_allow(authorization_url, member.username)

    token = session.fetch_token(
        urls["token"], authorization_response=location, code_verifier=verifier
    )
    assert set(token["scope"].split()) == {"openid", "profile", "offline_access"}
    assert {"access_token", "refresh_token", "id_token"} <= set(token)
    assert session.get(urls["profile"]).json()["username"] == member.username

    refreshed = session.refresh_token(urls["token"])
    assert refreshed["access_token"] != token["access_token"]
    assert session.get(urls["profile"]).status_code == 200

    # The code is single use: redeeming it again fails and revokes what it issued.
    replay = requests.post(
        urls["token"],
        data={
            "grant_type": "authorization_code",
            "code": parse_qs(urlsplit(location).query)["code"][0],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
        auth=(code_app.app.client_id, code_app.client_secret),
        timeout=10,
    )
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    assert session.get(urls["profile"]).status_code == 401


# -- jwt-bearer ----------------------------------------------------------------------------------
def test_jwt_bearer_with_an_assertion_session(urls, opened, make_app, org):
    key = rsa_key()
    app = make_app(
        client_name="Federation",
        grant_types=[JWT_BEARER],
        redirect_uris=[],
        public_keys=[public_pem(key)],
        scopes=["profile", "email"],
    )
    idp = IdentityProviderFactory(organization=org)
    session = AssertionSession(
        token_endpoint=urls["token"],
        issuer=app.app.client_id,
        subject=f"v2|{idp.id}|federated.user|Fed|User|fed@acme.test|staff",
        audience=urls["token"],
        scope="profile email",
        key=RSAKey.import_key(private_pem(key)),
        header={"alg": "RS256"},
        expires_in=300,  # SPEC §5: exp near (Authlib defaults to an hour)
    )
    opened(session)
    profile = session.get(urls["profile"])
    assert profile.status_code == 200, profile.text
    assert profile.json()["username"] == "federated.user"
    assert profile.json()["organizationId"] == str(org.id)
