"""Open redirects (RFC 6749 §10.15, §4.1.2.1; OWASP unvalidated redirects): the authorization
endpoint redirects only to an exactly registered redirect URI, whatever the query; the portal's
sign-in and sign-out `next` never leave the site."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

import pytest
from django.test import Client
from hypothesis import given, settings
from hypothesis import strategies as st

from oauth.models import Grant
from tests.factories import DEFAULT_PASSWORD
from tests.hostile.conftest import examples
from tests.hostile.strategies import NASTY_TEXT
from tests.oauth.code_flow import AUTHORIZE_URL, REDIRECT_URI, authorize_query, pkce_pair

pytestmark = pytest.mark.django_db

REDIRECT_URI_TRICKS = [
    "https://evil.example/callback",
    "https://client.example/other",
    "https://client.example/callback/",
    "https://client.example/callback?x=1",
    "https://client.example/callback?",
    "https://client.example/callback#frag",
    "https://client.example/callback#",
    "https://client.example@evil.example/callback",
    "https://client.example:443@evil.example/callback",
    "https://evil.example\\@client.example/callback",
    "https://client.example\\.evil.example/callback",
    "https://client.example.evil.example/callback",
    "https://evil.example/https://client.example/callback",
    "https://client.example/callback/../../evil",
    "https://client.example/%63allback",
    "https://client.example%2fcallback",
    "https://client.example%2F@evil.example/callback",
    "https://client.example/callback%00",
    "https://client.example/callback%0d%0aLocation:%20https://evil.example",
    "https://CLIENT.EXAMPLE/callback",
    "HTTPS://client.example/callback",
    "https://client.example:443/callback",
    "https://client.example./callback",
    "http://client.example/callback",
    "//client.example/callback",
    "//evil.example/callback",
    "/callback",
    "javascript:alert(1)//client.example/callback",
    "data:text/html,<script>alert(1)</script>",
    "https://client.example/callback\t",
    " https://client.example/callback",
    "https://client.example/callback ",
    "https:\\\\client.example\\callback",
    "https://xn--clent-5qa.example/callback",
    "https://clíent.example/callback",
]
AUTHORIZE_PARAMS = st.sampled_from(
    [
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "code_challenge",
        "code_challenge_method",
        "prompt",
        "nonce",
        "response_mode",
        "request",
        "request_uri",
        "claims",
        "max_age",
    ]
)


def assert_only_registered_redirect(response, *, anonymous: bool) -> None:
    assert response.status_code < 500, response.status_code
    if response.status_code not in (301, 302, 303, 307, 308):
        assert 400 <= response.status_code < 500 or response.status_code == 200
        return
    location = response["Location"]
    if location.startswith(REDIRECT_URI + "?") or location == REDIRECT_URI:
        return
    # Anonymous: to this site's sign-in page, never to another host.
    assert anonymous, location
    parts = urlsplit(location)
    assert not parts.scheme and not parts.netloc, location
    assert parts.path == "/auth/login/", location


@pytest.mark.parametrize("redirect_uri", REDIRECT_URI_TRICKS)
def test_a_redirect_uri_not_registered_exactly_is_an_error_page(member, code_app, redirect_uri):
    client = Client()
    client.force_login(member)
    challenge = pkce_pair()[1]
    query = authorize_query(code_app.app, challenge=challenge, redirect_uri=redirect_uri)
    for who in (client, Client()):
        response = who.get(f"{AUTHORIZE_URL}?{urlencode(query)}")
        assert response.status_code == 400, (redirect_uri, response.status_code)
        assert "Location" not in response


def test_the_registered_redirect_uri_itself_works(member, code_app):
    client = Client()
    client.force_login(member)
    query = authorize_query(code_app.app, challenge=pkce_pair()[1])
    response = client.get(f"{AUTHORIZE_URL}?{urlencode(query)}")
    assert response.status_code == 200  # the consent screen


@pytest.mark.parametrize("anonymous", [False, True])
def test_arbitrary_authorize_queries_redirect_only_to_the_registered_uri(
    member, code_app, anonymous
):
    client = Client()
    if not anonymous:
        client.force_login(member)
    base = authorize_query(code_app.app, challenge=pkce_pair()[1])

    @settings(max_examples=examples(40))
    @given(
        overrides=st.dictionaries(
            st.one_of(AUTHORIZE_PARAMS, NASTY_TEXT),
            st.one_of(NASTY_TEXT, st.sampled_from(REDIRECT_URI_TRICKS)),
            max_size=5,
        ),
        drop=st.lists(AUTHORIZE_PARAMS, max_size=3),
        repeat=st.lists(AUTHORIZE_PARAMS, max_size=2),
    )
    def check(overrides, drop, repeat):
        params = {k: v for k, v in {**base, **overrides}.items() if k not in drop}
        pairs = list(params.items()) + [(name, base.get(name, "x")) for name in repeat]
        grants_before = Grant.objects.count()
        response = client.get(f"{AUTHORIZE_URL}?{urlencode(pairs)}")
        assert_only_registered_redirect(response, anonymous=anonymous)
        if response.status_code != 302 or "code=" not in response.get("Location", ""):
            assert Grant.objects.count() == grants_before

    check()


# -- the portal's sign-in and sign-out ----------------------------------------------------------
HOSTILE_NEXT = [
    "//evil.example",
    "//evil.example/",
    "https://evil.example",
    "http://evil.example/path",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "///evil.example",
    "////evil.example",
    "/%2F%2Fevil.example",
    "%2F%2Fevil.example",
    "https:evil.example",
    "https:/evil.example",
    "\thttps://evil.example",
    " //evil.example",
    "javascript:alert(document.domain)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "https://testserver@evil.example/",
    "http://testserver.evil.example/",
]


def assert_stays_on_site(location: str) -> None:
    parts = urlsplit(location)
    assert parts.scheme in ("", "http"), location
    assert parts.netloc in ("", "testserver"), location
    assert not location.lstrip().startswith(("//", "\\", "/\\")), location


@pytest.mark.parametrize("next_url", HOSTILE_NEXT)
def test_sign_in_never_redirects_off_site(member, next_url):
    client = Client()
    response = client.post(
        "/auth/login/?" + urlencode({"next": next_url}),
        {"login": member.username, "password": DEFAULT_PASSWORD, "next": next_url},
    )
    assert response.status_code == 302, response.status_code
    assert_stays_on_site(response["Location"])
    assert client.session.get("_auth_user_id") == str(member.pk)  # the sign-in did succeed


@pytest.mark.parametrize("next_url", HOSTILE_NEXT)
def test_sign_out_never_redirects_off_site(member, next_url):
    client = Client()
    client.force_login(member)
    response = client.post("/auth/logout/", {"next": next_url})
    assert response.status_code == 302, response.status_code
    assert_stays_on_site(response["Location"])
