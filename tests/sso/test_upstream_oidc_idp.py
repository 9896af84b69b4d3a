"""The upstream OIDC IdP the SSO tests sign in through is a working identity provider: discovery,
registration, the authorization code flow through its login page (with and without PKCE), signed
ID tokens with the account's claims, userinfo; a wrong password or a cancelled sign-in gets no
code. Only `requests`, posting the login form as a browser would."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urljoin, urlsplit

import jwt
import pytest
import requests

from tests.oauth.code_flow import pkce_pair
from tests.sso.upstream import ADA, GRACE, UpstreamAccount, UpstreamClient, login_form

# Never reached: the test reads the redirect's Location instead of following it.
REDIRECT_URI = "http://127.0.0.1:9/sso/callback"


@pytest.fixture(scope="module")
def metadata(upstream_oidc_idp) -> dict:
    return upstream_oidc_idp.discovery()


@pytest.fixture(scope="module")
def client(upstream_oidc_idp) -> UpstreamClient:
    return upstream_oidc_idp.add_client(redirect_uris=[REDIRECT_URI])


def open_login_page(
    browser: requests.Session, metadata: dict, client: UpstreamClient, **params: str
) -> requests.Response:
    """The authorization request, followed to the IdP's login page."""
    query = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid email profile",
        "state": secrets.token_urlsafe(8),
        "nonce": secrets.token_urlsafe(8),
        **params,
    }
    response = browser.get(metadata["authorization_endpoint"], params=query, timeout=5)
    assert response.status_code == 200, response.text
    assert urlsplit(response.url).path.startswith("/interaction/")
    return response


def submit_login(
    browser: requests.Session, page: requests.Response, *, username: str, password: str
) -> requests.Response:
    """Posts the "Sign in" form and follows the IdP's redirects (consent is granted on the
    way) up to the one back to the client, which it returns unfollowed."""
    form = login_form(page.text)
    response = browser.post(
        urljoin(page.url, form.action),
        data={form.labels["Username"]: username, form.labels["Password"]: password},
        allow_redirects=False,
        timeout=5,
    )
    return follow_to_client(browser, response)


def follow_to_client(browser: requests.Session, response: requests.Response) -> requests.Response:
    for _ in range(10):
        location = response.headers.get("Location", "")
        if response.status_code not in (302, 303) or location.startswith(REDIRECT_URI):
            return response
        response = browser.get(urljoin(response.url, location), allow_redirects=False, timeout=5)
    raise AssertionError("the IdP redirected more than 10 times")


def callback_params(response: requests.Response) -> dict[str, str]:
    assert response.status_code in (302, 303), response.text
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?"), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def verified_id_token(metadata: dict, client: UpstreamClient, id_token: str) -> dict:
    key = jwt.PyJWKClient(metadata["jwks_uri"]).get_signing_key_from_jwt(id_token)
    return jwt.decode(
        id_token, key, algorithms=["RS256"], audience=client.client_id, issuer=metadata["issuer"]
    )


def test_discovery_describes_the_idp(upstream_oidc_idp, metadata):
    assert metadata["issuer"] == upstream_oidc_idp.issuer
    assert upstream_oidc_idp.discovery_url == (
        f"{upstream_oidc_idp.issuer}/.well-known/openid-configuration"
    )
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert {"client_secret_basic", "client_secret_post"} <= set(
        metadata["token_endpoint_auth_methods_supported"]
    )
    assert {"openid", "email", "profile"} <= set(metadata["scopes_supported"])
    assert metadata["userinfo_endpoint"].startswith(upstream_oidc_idp.issuer)


def test_the_login_page_is_a_labelled_form(metadata, client):
    page = open_login_page(requests.Session(), metadata, client)

    form = login_form(page.text)
    assert form.labels == {"Username": "username", "Password": "password"}
    assert form.buttons == ("Sign in", "Cancel")
    assert form.alert == ""


def test_code_flow_with_pkce_through_the_login_form(metadata, client):
    browser = requests.Session()
    verifier, challenge = pkce_pair()
    page = open_login_page(
        browser, metadata, client, code_challenge=challenge, code_challenge_method="S256"
    )

    params = callback_params(submit_login(browser, page, username="ada", password=ADA.password))

    assert params["iss"] == metadata["issuer"]
    tokens = requests.post(
        metadata["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
        auth=(client.client_id, client.client_secret),
        timeout=5,
    )
    assert tokens.status_code == 200, tokens.text
    claims = verified_id_token(metadata, client, tokens.json()["id_token"])
    assert claims["sub"] == ADA.sub
    assert claims["email"] == ADA.email
    assert claims["email_verified"] is True
    assert claims["name"] == "Ada Lovelace"
    assert claims["preferred_username"] == "ada"
    assert claims["groups"] == ["engineering", "doorman-admins"]
    assert claims["amr"] == ["pwd"]
    userinfo = requests.get(
        metadata["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {tokens.json()['access_token']}"},
        timeout=5,
    ).json()
    assert userinfo["sub"] == ADA.sub
    assert userinfo["email"] == ADA.email
    assert userinfo["given_name"] == "Ada"
    assert userinfo["family_name"] == "Lovelace"


def test_a_wrong_password_is_refused(metadata, client):
    browser = requests.Session()
    page = open_login_page(browser, metadata, client)

    refused = submit_login(browser, page, username="ada", password="not-" + ADA.password)
    unknown = submit_login(browser, page, username="nobody", password=ADA.password)

    for response in (refused, unknown):
        assert response.status_code == 401
        assert "Location" not in response.headers
        form = login_form(response.text)
        assert form.alert == "Invalid username or password."
        assert form.buttons == ("Sign in", "Cancel")
    # The same interaction still signs in with the right password.
    params = callback_params(submit_login(browser, page, username="ada", password=ADA.password))
    assert "code" in params


def test_a_wrong_code_verifier_is_refused(metadata, client):
    browser = requests.Session()
    _, challenge = pkce_pair()
    page = open_login_page(
        browser, metadata, client, code_challenge=challenge, code_challenge_method="S256"
    )
    params = callback_params(submit_login(browser, page, username="ada", password=ADA.password))

    tokens = requests.post(
        metadata["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": pkce_pair()[0],
        },
        auth=(client.client_id, client.client_secret),
        timeout=5,
    )

    assert tokens.status_code == 400
    assert tokens.json()["error"] == "invalid_grant"


def test_without_pkce_a_post_client_signs_in_an_added_account(upstream_oidc_idp, metadata):
    post_client = upstream_oidc_idp.add_client(
        redirect_uris=[REDIRECT_URI],
        client_id="doorman-post",
        client_secret="post-secret",
        token_endpoint_auth_method="client_secret_post",
    )
    linus = upstream_oidc_idp.add_account(
        UpstreamAccount(sub="00u-linus", password="penguin-1991", email="Linus@Company.example")
    )
    browser = requests.Session()
    page = open_login_page(browser, metadata, post_client, login_hint="linus@company.example")

    params = callback_params(
        submit_login(browser, page, username="linus@company.example", password=linus.password)
    )

    tokens = requests.post(
        metadata["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": REDIRECT_URI,
            "client_id": "doorman-post",
            "client_secret": "post-secret",
        },
        timeout=5,
    )
    assert tokens.status_code == 200, tokens.text
    claims = verified_id_token(metadata, post_client, tokens.json()["id_token"])
    assert claims["sub"] == "00u-linus"
    assert claims["email"] == "Linus@Company.example"
    assert "name" not in claims


def test_an_unverified_email_is_said_to_be(metadata, client):
    browser = requests.Session()
    page = open_login_page(browser, metadata, client, scope="openid email")

    params = callback_params(submit_login(browser, page, username="grace", password=GRACE.password))

    tokens = requests.post(
        metadata["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": REDIRECT_URI,
        },
        auth=(client.client_id, client.client_secret),
        timeout=5,
    ).json()
    claims = verified_id_token(metadata, client, tokens["id_token"])
    assert claims["email"] == GRACE.email
    assert claims["email_verified"] is False
    assert "groups" not in claims  # the profile scope was not asked for


def test_cancel_returns_access_denied_to_the_client(metadata, client):
    browser = requests.Session()
    page = open_login_page(browser, metadata, client, state="cancel-me")
    cancel = urljoin(page.url, login_form(page.text).cancel_action)

    response = follow_to_client(browser, browser.post(cancel, allow_redirects=False, timeout=5))

    params = callback_params(response)
    assert params["error"] == "access_denied"
    assert params["state"] == "cancel-me"
    assert "code" not in params


def test_another_idp_starts_with_its_own_clients_and_accounts(
    upstream_oidc_idp, upstream_oidc_idp_factory
):
    static = UpstreamClient("globex-rp", "globex-secret", (REDIRECT_URI,))
    hedy = UpstreamAccount(
        sub="00u-hedy", password="frequency-hopping", email="hedy@globex.example"
    )
    other = upstream_oidc_idp_factory(clients=[static], accounts=[hedy])
    metadata = other.discovery()
    browser = requests.Session()
    page = open_login_page(browser, metadata, static)

    params = callback_params(submit_login(browser, page, username=hedy.sub, password=hedy.password))

    assert other.issuer != upstream_oidc_idp.issuer
    tokens = requests.post(
        metadata["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": REDIRECT_URI,
        },
        auth=(static.client_id, static.client_secret),
        timeout=5,
    )
    assert tokens.status_code == 200, tokens.text
    claims = verified_id_token(metadata, static, tokens.json()["id_token"])
    assert claims["sub"] == "00u-hedy"
    assert claims["iss"] == other.issuer
    assert "groups" not in claims
