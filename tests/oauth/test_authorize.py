"""The authorization endpoint's refusals (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6, SPEC §2, §4, §5).

An untrusted client or redirect URI is answered with an HTML error page and never a redirect;
everything else the client did wrong (or the user may not do) goes back to the registered
redirect URI as an error, with `state`.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.conf import settings
from django.test import Client

from accounts.access import Access
from connected_apps.services import connected_app_update
from oauth.views import authorize as authorize_view
from tests.factories import UserFactory
from tests.oauth.code_flow import (
    AUTHORIZE_URL,
    REDIRECT_URI,
    authorize_query,
    authorize_url,
    pkce_pair,
    redirect_params,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def challenge():
    return pkce_pair()[1]


@pytest.fixture
def signed_in(member):
    client = Client()
    client.force_login(member)
    return client


def assert_error_page(response, code: str):
    assert response.status_code == 400
    assert "Location" not in response
    assert response["Content-Type"].startswith("text/html")
    assert response.context["error_code"] == code
    assert b"This request cannot be completed" in response.content


def assert_redirect_error(response, error: str, state: str | None = "state-123") -> dict:
    params = redirect_params(response)
    assert response["Location"].startswith(REDIRECT_URI + "?")
    assert params["error"] == error
    assert "code" not in params
    if state is None:
        assert "state" not in params
    else:
        assert params["state"] == state
    assert params["iss"] == settings.DOORMAN_ISSUER
    return params


# -- untrusted client or redirect URI: an error page, never a redirect --------------------------
def test_unknown_client_id_is_an_error_page(signed_in, code_app, challenge):
    query = authorize_query(code_app.app, challenge=challenge, client_id="0" * 32)
    assert_error_page(signed_in.get(AUTHORIZE_URL, query), "invalid_client")


def test_missing_client_id_is_an_error_page(signed_in, code_app, challenge):
    query = authorize_query(code_app.app, challenge=challenge, client_id=None)
    assert_error_page(signed_in.get(AUTHORIZE_URL, query), "invalid_client")


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://client.example/callback/",  # trailing slash
        "https://client.example/callback?next=/",  # extra query
        "https://client.example/callback#frag",
        "https://CLIENT.example/callback",
        "http://client.example/callback",
        "https://client.example/callback/../callback",
        "https://evil.example/callback",
    ],
)
def test_redirect_uri_must_match_a_registered_one_exactly(
    signed_in, code_app, challenge, redirect_uri
):
    query = authorize_query(code_app.app, challenge=challenge, redirect_uri=redirect_uri)
    response = signed_in.get(AUTHORIZE_URL, query)
    assert_error_page(response, "invalid_redirect_uri")
    assert b"evil.example" not in response.content


def test_the_error_page_is_shown_before_asking_an_anonymous_user_to_sign_in(code_app, challenge):
    query = authorize_query(code_app.app, challenge=challenge, redirect_uri="https://evil.example/")
    assert_error_page(Client().get(AUTHORIZE_URL, query), "invalid_redirect_uri")


def test_a_client_credentials_app_cannot_use_the_authorization_endpoint(
    signed_in, cc_app, challenge
):
    response = signed_in.get(authorize_url(cc_app.app, challenge=challenge))
    assert_error_page(response, "invalid_redirect_uri")


def test_duplicate_parameters_are_an_error_page(signed_in, code_app, challenge):
    query = urlencode(authorize_query(code_app.app, challenge=challenge)) + "&state=other"
    assert_error_page(signed_in.get(f"{AUTHORIZE_URL}?{query}"), "invalid_request")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("code_challenge", "a" * 129),
        ("nonce", "n" * 256),
        ("state", "s" * 1025),
        ("redirect_uri", "https://client.example/" + "x" * 2000),
        ("claims", "{" + " " * 5000 + "}"),
        ("state", "nul\x00byte"),
        ("nonce", "nul\x00byte"),
    ],
)
def test_over_long_or_nul_parameters_are_refused_with_400(
    signed_in, code_app, challenge, name, value
):
    query = authorize_query(code_app.app, challenge=challenge, **{name: value})
    response = signed_in.get(AUTHORIZE_URL, query)
    assert_error_page(response, "invalid_request")


# -- the app may not be authorized now ------------------------------------------------------------
def test_a_disabled_app_is_access_denied_with_state(signed_in, admin, code_app, challenge):
    connected_app_update(access=Access(user=admin), app=code_app.app, changes={"enabled": False})
    response = signed_in.get(authorize_url(code_app.app, challenge=challenge))
    params = assert_redirect_error(response, "access_denied")
    assert params["error_description"] == authorize_view.APP_DISABLED


def test_a_disabled_app_with_an_unregistered_redirect_uri_is_an_error_page(
    signed_in, admin, code_app, challenge
):
    connected_app_update(access=Access(user=admin), app=code_app.app, changes={"enabled": False})
    query = authorize_query(code_app.app, challenge=challenge, redirect_uri="https://evil.example/")
    assert_error_page(signed_in.get(AUTHORIZE_URL, query), "invalid_client")


def test_a_disabled_app_is_refused_before_sign_in_too(admin, code_app, challenge):
    connected_app_update(access=Access(user=admin), app=code_app.app, changes={"enabled": False})
    response = Client().get(authorize_url(code_app.app, challenge=challenge))
    assert_redirect_error(response, "access_denied")


def test_an_internal_app_refuses_users_of_other_organizations(other_admin, code_app, challenge):
    client = Client()
    client.force_login(other_admin)
    response = client.get(authorize_url(code_app.app, challenge=challenge))
    params = assert_redirect_error(response, "access_denied")
    assert params["error_description"] == authorize_view.APP_INTERNAL


def test_an_everyone_app_accepts_users_of_other_organizations(other_admin, make_app, challenge):
    app = make_app(audience="everyone").app
    client = Client()
    client.force_login(other_admin)
    response = client.get(authorize_url(app, challenge=challenge))
    assert response.status_code == 200
    assert response.context["app"] == app


def test_a_member_of_a_business_group_is_inside_the_root_org(org, make_app, challenge):
    from tests.factories import OrganizationFactory

    bg = OrganizationFactory(name="Retail", parent=org)
    app = make_app(owner=bg).app
    client = Client()
    client.force_login(UserFactory(organization=org))
    assert client.get(authorize_url(app, challenge=challenge)).status_code == 200


# -- protocol errors go back to the client ---------------------------------------------------
def test_pkce_is_required(signed_in, code_app):
    query = authorize_query(
        code_app.app, challenge="x", code_challenge=None, code_challenge_method=None
    )
    assert_redirect_error(signed_in.get(AUTHORIZE_URL, query), "invalid_request")


@pytest.mark.parametrize("method", [None, "plain", "S512"])
def test_only_the_s256_challenge_method_is_accepted(signed_in, code_app, challenge, method):
    query = authorize_query(code_app.app, challenge=challenge, code_challenge_method=method)
    assert_redirect_error(signed_in.get(AUTHORIZE_URL, query), "invalid_request")


@pytest.mark.parametrize("bad", ["short", "a" * 42 + "=", "a" * 44, "+" * 43])
def test_a_malformed_s256_challenge_is_refused(signed_in, code_app, bad):
    response = signed_in.get(authorize_url(code_app.app, challenge=bad))
    params = assert_redirect_error(response, "invalid_request")
    assert params["error_description"] == authorize_view.PKCE_CHALLENGE_MALFORMED


@pytest.mark.parametrize("response_type", ["token", "id_token", "code id_token", "none"])
def test_only_response_type_code(signed_in, code_app, challenge, response_type):
    response = signed_in.get(
        authorize_url(code_app.app, challenge=challenge, response_type=response_type)
    )
    params = redirect_params(response)
    assert params["error"] in {"unsupported_response_type", "unauthorized_client"}
    assert "code" not in params


def test_a_missing_response_type_is_an_error(signed_in, code_app, challenge):
    response = signed_in.get(authorize_url(code_app.app, challenge=challenge, response_type=None))
    assert_redirect_error(response, "invalid_request")


def test_only_response_mode_query(signed_in, code_app, challenge):
    response = signed_in.get(
        authorize_url(code_app.app, challenge=challenge, response_mode="fragment")
    )
    assert_redirect_error(response, "invalid_request")


def test_a_scope_the_app_does_not_hold_is_invalid_scope(signed_in, code_app, challenge):
    response = signed_in.get(
        authorize_url(code_app.app, challenge=challenge, scope="openid manage:users")
    )
    assert_redirect_error(response, "invalid_scope")


def test_an_unknown_scope_is_invalid_scope(signed_in, code_app, challenge):
    response = signed_in.get(authorize_url(code_app.app, challenge=challenge, scope="root"))
    assert_redirect_error(response, "invalid_scope")


def test_without_state_the_error_has_no_state(signed_in, code_app, challenge):
    url = authorize_url(code_app.app, challenge=challenge, state=None, scope="x")
    response = signed_in.get(url)
    assert_redirect_error(response, "invalid_scope", state=None)


# -- signing in -------------------------------------------------------------------------------
def test_an_anonymous_user_is_sent_to_the_login_page_and_back(code_app, challenge):
    url = authorize_url(code_app.app, challenge=challenge)
    response = Client().get(url)
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == "/auth/login/"
    assert parse_qs(location.query)["next"] == [url]


# -- prompt=none (OIDC Core §3.1.2.6) ---------------------------------------------------------
def test_prompt_none_without_a_session_is_login_required(code_app, challenge):
    response = Client().get(authorize_url(code_app.app, challenge=challenge, prompt="none"))
    params = redirect_params(response)
    assert params["error"] == "login_required"
    assert params["state"] == "state-123"


def test_prompt_none_without_consent_is_consent_required(signed_in, code_app, challenge):
    response = signed_in.get(authorize_url(code_app.app, challenge=challenge, prompt="none"))
    assert_redirect_error(response, "consent_required")


def test_prompt_none_without_openid_is_consent_required_too(signed_in, code_app, challenge):
    response = signed_in.get(
        authorize_url(code_app.app, challenge=challenge, prompt="none", scope="profile")
    )
    assert_redirect_error(response, "consent_required")


def test_prompt_none_with_consent_returns_a_code(signed_in, member, code_app, challenge):
    from oauth.services import authorization_grant

    authorization_grant(user=member, app=code_app.app, scopes=["openid", "profile"])
    response = signed_in.get(authorize_url(code_app.app, challenge=challenge, prompt="none"))
    params = redirect_params(response)
    assert params["code"]
    assert params["state"] == "state-123"


def test_prompt_none_cannot_be_combined(signed_in, code_app, challenge):
    response = signed_in.get(
        authorize_url(code_app.app, challenge=challenge, prompt="none consent")
    )
    assert_redirect_error(response, "invalid_request")


def test_prompt_none_with_an_unregistered_redirect_uri_is_an_error_page(code_app, challenge):
    response = Client().get(
        authorize_url(
            code_app.app, challenge=challenge, prompt="none", redirect_uri="https://evil.example/"
        )
    )
    assert_error_page(response, "invalid_redirect_uri")


# -- the page itself -----------------------------------------------------------------------------
def test_error_pages_cannot_be_framed_either(signed_in, code_app, challenge):
    query = authorize_query(code_app.app, challenge=challenge, client_id="nope")
    response = signed_in.get(AUTHORIZE_URL, query)
    assert response["X-Frame-Options"] == "DENY"
    assert response["Content-Security-Policy"] == "frame-ancestors 'none'"


def test_prompt_login_sends_a_signed_in_user_to_reauthenticate_without_the_prompt(
    signed_in, member, code_app, challenge
):
    """A signed-in user must authenticate actively again (SPEC §11): allauth's
    re-authentication page (the login page would only send them straight back), then this
    request without `prompt=login`, whose demand is met by then."""
    from oauth.services import authorization_grant

    authorization_grant(user=member, app=code_app.app, scopes=["openid", "profile"])
    url = authorize_url(code_app.app, challenge=challenge, prompt="login consent")
    response = signed_in.get(url)
    location = urlsplit(response["Location"])
    assert location.path == "/auth/reauthenticate/"
    next_query = parse_qs(urlsplit(parse_qs(location.query)["next"][0]).query)
    assert next_query["prompt"] == ["consent"]
    assert next_query["state"] == ["state-123"]


def test_prompt_login_sends_an_anonymous_user_to_sign_in(code_app, challenge):
    response = Client().get(authorize_url(code_app.app, challenge=challenge, prompt="login"))
    location = urlsplit(response["Location"])
    assert location.path == "/auth/login/"
    assert "prompt" not in parse_qs(urlsplit(parse_qs(location.query)["next"][0]).query)


@pytest.mark.parametrize("parameter", ["request", "request_uri"])
def test_request_objects_are_request_not_supported(signed_in, code_app, challenge, parameter):
    """OIDC Core §6: answered, not ignored (SPEC §11)."""
    url = authorize_url(
        code_app.app, challenge=challenge, **{parameter: "eyJhbGciOiJub25lIn0.e30."}
    )
    assert_redirect_error(signed_in.get(url), "request_not_supported")


@pytest.mark.parametrize("max_age", ["-1", "1.5", "soon", "١٢"])
def test_a_malformed_max_age_is_invalid_request(signed_in, code_app, challenge, max_age):
    url = authorize_url(code_app.app, challenge=challenge, max_age=max_age)
    assert_redirect_error(signed_in.get(url), "invalid_request")


# -- RFC 8707 resource indicators ----------------------------------------------------------------
RESOURCE = "https://api.example/orders"


@pytest.mark.parametrize("remembered", [False, True], ids=["consent screen", "remembered"])
def test_the_resource_named_at_authorization_restricts_the_code(
    signed_in, member, code_app, challenge, remembered
):
    """The code carries the request's resource indicators whether or not the consent screen
    is shown (a remembered consent used to drop them)."""
    from oauth.models import Grant
    from oauth.services import authorization_grant
    from tests.oauth.code_flow import consent_form

    if remembered:
        authorization_grant(user=member, app=code_app.app, scopes=["openid", "profile"])
    url = authorize_url(code_app.app, challenge=challenge) + "&" + urlencode({"resource": RESOURCE})
    response = signed_in.get(url)
    if not remembered:
        assert response.status_code == 200
        response = signed_in.post(
            url, {**consent_form(response), "resource": RESOURCE, "allow": "true"}
        )
    assert redirect_params(response)["code"]
    assert Grant.objects.get(user=member).resource == [RESOURCE]


def test_a_malformed_resource_is_invalid_target_with_a_remembered_consent(
    signed_in, member, code_app, challenge
):
    from oauth.models import Grant
    from oauth.services import authorization_grant

    authorization_grant(user=member, app=code_app.app, scopes=["openid", "profile"])
    url = authorize_url(code_app.app, challenge=challenge) + "&resource=not-a-uri"
    assert_redirect_error(signed_in.get(url), "invalid_target")
    assert not Grant.objects.exists()
