"""OIDC authentication requests (SPEC §11, OIDC Core §3.1.2.1, §2): `prompt=login` and
`max_age` make a signed-in user authenticate actively again, on allauth's re-authentication
page, and the ID token says when and how the user authenticated (`auth_time`, `amr`, `acr`),
as the session that got the code knew it."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest
from django.test import Client

from tests.factories import DEFAULT_PASSWORD
from tests.oauth.code_flow import (
    authorize_url,
    obtain_code,
    pkce_pair,
    redeem_code,
    redirect_params,
    unverified_claims,
)
from tests.oauth.tokenkit import isolated_throttle  # noqa: F401 (autouse fixture)

pytestmark = pytest.mark.django_db

SIGN_IN_PATH = "/auth/login/"
REAUTHENTICATE_PATH = "/auth/reauthenticate/"
SCOPE = "openid profile"


def signed_in_through_the_portal(user) -> Client:
    """A browser signed in on the portal's sign-in page (allauth records how)."""
    client = Client()
    assert client.get(SIGN_IN_PATH).status_code == 200
    response = client.post(SIGN_IN_PATH, {"login": user.username, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302, response.status_code
    return client


def id_token_claims(response) -> dict:
    assert response.status_code == 200, response.content
    return unverified_claims(response.json()["id_token"])


@pytest.fixture
def consented(member, code_app) -> Client:
    browser = signed_in_through_the_portal(member)
    _verifier, challenge = pkce_pair()
    assert obtain_code(browser, code_app.app, challenge=challenge, scope=SCOPE)["code"]
    return browser


def test_the_id_token_says_when_and_how_the_user_signed_in(consented, code_app):
    before = int(time.time())
    browser = consented
    verifier, challenge = pkce_pair()
    code = obtain_code(browser, code_app.app, challenge=challenge, scope=SCOPE)["code"]
    claims = id_token_claims(redeem_code(Client(), code_app, code, verifier))
    # Signed in by the fixture, moments before `before` at most.
    assert before - 60 <= claims["auth_time"] <= time.time()
    assert claims["amr"] == ["pwd"]
    assert claims["acr"] == "1"


def test_a_code_from_the_consent_screen_says_it_too(member, code_app):
    browser = signed_in_through_the_portal(member)
    verifier, challenge = pkce_pair()
    response = browser.get(authorize_url(code_app.app, challenge=challenge, scope=SCOPE))
    assert response.status_code == 200  # the screen: Allow goes through oauthlib
    code = obtain_code(browser, code_app.app, challenge=challenge, scope=SCOPE)["code"]
    claims = id_token_claims(redeem_code(Client(), code_app, code, verifier))
    assert claims["amr"] == ["pwd"]
    assert claims["acr"] == "1"


@pytest.mark.parametrize(
    "demand", [{"prompt": "login"}, {"max_age": "0"}], ids=["prompt=login", "max_age=0"]
)
def test_a_signed_in_user_authenticates_again_before_getting_a_code(consented, code_app, demand):
    browser = consented
    time.sleep(1.1)  # auth_time counts seconds: the new one must be later than the sign-in's
    reauthenticated_from = int(time.time())
    verifier, challenge = pkce_pair()
    response = browser.get(authorize_url(code_app.app, challenge=challenge, scope=SCOPE, **demand))
    reauthenticate = response["Location"]
    assert urlsplit(reauthenticate).path == REAUTHENTICATE_PATH
    assert browser.get(reauthenticate).status_code == 200  # a form, not a bounce back
    wrong = browser.post(reauthenticate, {"password": "not-the-password"})
    assert wrong.status_code == 200  # asked again
    back = browser.post(reauthenticate, {"password": DEFAULT_PASSWORD})
    assert back.status_code == 302, back.status_code
    code = redirect_params(browser.get(back["Location"]))["code"]
    claims = id_token_claims(redeem_code(Client(), code_app, code, verifier))
    assert claims["auth_time"] >= reauthenticated_from


def test_a_sign_in_recent_enough_meets_max_age(consented, code_app):
    _verifier, challenge = pkce_pair()
    response = consented.get(
        authorize_url(code_app.app, challenge=challenge, scope=SCOPE, max_age="3600")
    )
    assert redirect_params(response)["code"]


def test_max_age_exceeded_with_prompt_none_is_login_required(consented, code_app):
    time.sleep(1.1)
    _verifier, challenge = pkce_pair()
    response = consented.get(
        authorize_url(code_app.app, challenge=challenge, scope=SCOPE, max_age="0", prompt="none")
    )
    params = redirect_params(response)
    assert params["error"] == "login_required"
    assert "code" not in params


def test_discovery_advertises_what_is_honoured(client):
    metadata = client.get("/.well-known/openid-configuration").json()
    assert {"auth_time", "amr", "acr"} <= set(metadata["claims_supported"])
    assert metadata["acr_values_supported"] == ["1", "2"]
    assert metadata["request_parameter_supported"] is False
    assert metadata["request_uri_parameter_supported"] is False
    assert "login" in metadata["prompt_values_supported"]


def test_login_hint_prefills_the_sign_in_page(code_app):
    _verifier, challenge = pkce_pair()
    browser = Client()
    response = browser.get(
        authorize_url(code_app.app, challenge=challenge, scope=SCOPE, login_hint="alice<b>")
    )
    location = response["Location"]
    assert urlsplit(location).path == SIGN_IN_PATH
    page = browser.get(location)
    assert page.context["form"]["login"].value() == "alice<b>"
    assert b'value="alice&lt;b&gt;"' in page.content  # escaped, as every value


def test_a_session_without_sign_in_records_is_never_young_enough_for_max_age(member, code_app):
    """A session that does not say when it signed in (older than the records, or made
    outside allauth) is sent to authenticate again rather than trusted on `last_login`,
    which may be another browser's sign-in."""
    browser = Client()
    browser.force_login(member)  # no allauth records
    _verifier, challenge = pkce_pair()
    response = browser.get(
        authorize_url(code_app.app, challenge=challenge, scope=SCOPE, max_age="3600")
    )
    assert urlsplit(response["Location"]).path == REAUTHENTICATE_PATH
