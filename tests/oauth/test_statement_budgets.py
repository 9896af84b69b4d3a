"""What each grant costs the database, pinned (issue 14): the statements a token request
sends once the app is remembered, on PostgreSQL, where the engine writes a grant's outcome
in one statement. Every statement goes through Django's cursor, so CaptureQueriesContext sees
all of them (BEGIN/COMMIT/SAVEPOINT included)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from oauth.principal_cache import GENERATION_TABLE
from tests.factories import DEFAULT_PASSWORD, IdentityProviderFactory
from tests.oauth.code_flow import (
    authorize_url,
    obtain_code,
    pkce_pair,
    redeem_code,
    redirect_params,
)
from tests.oauth.test_grant_jwt_bearer import assertion_for, grant, subject
from tests.oauth.tokenkit import (  # noqa: F401 (isolated_throttle: an autouse fixture)
    INTROSPECT_URL,
    JWT_BEARER,
    basic,
    isolated_throttle,
    post_form,
    public_pem,
    rsa_key,
)
from tests.wsgi_kit import call

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the one-statement writer is PostgreSQL's"
    ),
]


def statements(send) -> list[str]:
    send()  # the app is remembered from here on
    with CaptureQueriesContext(connection) as captured:
        send()
    return [query["sql"] for query in captured.captured_queries]


@pytest.fixture
def password_app(make_app):
    return make_app(
        grant_types=["password", "refresh_token"],
        redirect_uris=[],
        scopes=["profile", "offline_access"],
    )


def test_a_password_grant_costs_four_statements(password_app, admin):
    """The app generation, the user (Django's authenticate()), one read (the user's org
    controls and live authorization of the app), one write."""

    def sign_in():
        response = post_form(
            {
                "grant_type": "password",
                "username": admin.username,
                "password": DEFAULT_PASSWORD,
                "scope": "profile",
            },
            HTTP_AUTHORIZATION=_basic(password_app),
        )
        assert response.status_code == 200, response.content

    sent = statements(sign_in)
    assert len(sent) == 4, sent
    assert sent[-1].startswith("WITH new_access AS (INSERT")


def test_a_refresh_costs_three_statements(password_app, admin):
    """The app generation (its memo still current), one read (the refresh token with its
    access token, user and the user's org controls), one write (rotate, issue, stamp, audit)."""
    signed_in = post_form(
        {
            "grant_type": "password",
            "username": admin.username,
            "password": DEFAULT_PASSWORD,
            "client_id": password_app.app.client_id,
            "client_secret": password_app.client_secret,
            "scope": "profile",
        }
    )
    current = {"refresh_token": signed_in.json()["refresh_token"]}

    def refresh():
        response = post_form(
            {"grant_type": "refresh_token", **current},
            HTTP_AUTHORIZATION=_basic(password_app),
        )
        assert response.status_code == 200, response.content
        current["refresh_token"] = response.json()["refresh_token"]

    sent = statements(refresh)
    assert len(sent) == 3, sent
    assert sent[-1].startswith("WITH claimed AS (UPDATE")


def _basic(app_with_secret) -> str:
    return basic(app_with_secret.app.client_id, app_with_secret.client_secret)


@pytest.mark.parametrize("scope", ["profile offline_access", "openid profile offline_access"])
def test_a_code_exchange_costs_three_statements(make_app, admin, scope):
    """The app generation, one read (the code with its user and the user's org controls),
    one write (claim the code, insert the ID token when openid is granted, the pair, the
    authorization's stamp and the audit event)."""
    app = make_app(scopes=["openid", "profile", "offline_access"])
    browser = Client()
    browser.force_login(admin)

    def exchange():
        verifier, challenge = pkce_pair()
        code = obtain_code(browser, app.app, challenge=challenge, scope=scope)["code"]
        with CaptureQueriesContext(connection) as captured:
            response = redeem_code(Client(), app, code, verifier)
        assert response.status_code == 200, response.content
        assert ("id_token" in response.json()) == ("openid" in scope)
        return [query["sql"] for query in captured.captured_queries]

    exchange()  # the app is remembered from here on
    sent = exchange()
    assert len(sent) == 3, sent
    assert sent[-1].startswith("WITH claimed AS (UPDATE")


def test_a_remembered_consent_costs_four_statements(make_app, admin):
    """GET /authorize for a user who already consented: the session with its user
    (accounts.sessions), the app generation (its memo still current), one read (the user's
    org controls and live consent), one write (the code's digest)."""
    app = make_app(scopes=["openid", "profile"])
    browser = Client()
    browser.force_login(admin)
    _verifier, challenge = pkce_pair()
    obtain_code(browser, app.app, challenge=challenge)  # consents

    def authorize():
        response = browser.get(authorize_url(app.app, challenge=challenge))
        assert "code" in redirect_params(response)

    sent = statements(authorize)
    assert len(sent) == 4, sent
    assert sent[-1].startswith('INSERT INTO "oauth_grant"')


def test_a_jwt_bearer_grant_costs_four_statements(make_app, org):
    """For a user already linked: the app generation, one statement consuming the jti and
    reading the provider, its org, the app's owner, the reach's approval, the linked user,
    their org controls and authorization; the user's power within the reach; one write."""
    key = rsa_key()
    app = make_app(
        grant_types=[JWT_BEARER],
        redirect_uris=[],
        public_keys=[public_pem(key)],
        scopes=["profile", "email"],
    )
    idp = IdentityProviderFactory(organization=org, name="Corporate SSO")

    def sign_in():
        response = post_form(grant(assertion_for(app, key, subject(idp))))
        assert response.status_code == 200, response.content

    sign_in()  # the user is created, linked and authorized
    sent = statements(sign_in)
    assert len(sent) == 4, sent
    assert sent[1].startswith("WITH claimed AS (INSERT")
    assert sent[-1].startswith("WITH new_access AS (INSERT")


@pytest.mark.parametrize("front", ["wsgi", "view"])
def test_an_introspection_costs_one_statement(password_app, admin, front):
    """With the client and the token remembered: one statement, the generation (which both
    memos must match) and whether the token's row is still there, unexpired. The WSGI front
    answers a plain request; Django's view, the same answer for anything else."""
    token = post_form(
        {
            "grant_type": "password",
            "username": admin.username,
            "password": DEFAULT_PASSWORD,
            "scope": "profile",
        },
        HTTP_AUTHORIZATION=_basic(password_app),
    ).json()["access_token"]
    auth = _basic(password_app)

    def introspect():
        if front == "wsgi":
            body = urlencode({"token": token})
            answer = call(body, PATH_INFO=INTROSPECT_URL, HTTP_AUTHORIZATION=auth)
        else:
            answer = post_form({"token": token}, url=INTROSPECT_URL, HTTP_AUTHORIZATION=auth)
        assert answer.status_code == 200
        assert answer.json()["active"] is True, answer.json()

    sent = statements(introspect)
    assert len(sent) == 1, sent
    assert sent[0].startswith("SELECT g.value, EXISTS(") and GENERATION_TABLE in sent[0]
