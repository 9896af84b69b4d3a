"""Request-rate limits (oauth/ratelimit.py): the token endpoint per IP and per client (spent
only by requests that authenticated as it), failed password sign-ins per IP and per username
(a known address exempt from the latter), the portal's login page per IP; 429 + Retry-After;
DOORMAN_RATELIMIT_ENABLED=false switches everything off."""

from __future__ import annotations

import base64

import pytest
from django.test import Client, override_settings

from oauth import ratelimit
from oauth.engine.credentials import basic_client_id
from oauth.ratelimit import RATE_LIMITED_DESCRIPTION, parse_rate
from tests.factories import DEFAULT_PASSWORD
from tests.oauth.tokenkit import isolated_throttle  # noqa: F401 (autouse fixture)

TOKEN_URL = "/accounts/api/v2/oauth2/token"
PLATFORM_LOGIN_URL = "/accounts/login"
LOGIN_PAGE_URL = "/auth/login/"
GENEROUS = "1000/m"
WRONG = "wrong"  # a password nobody has


def basic(client_id: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:wrong".encode()).decode()


def token_request(client_id: str, ip: str = "203.0.113.1", **body):
    data = {"grant_type": "client_credentials", **body}
    return Client().post(TOKEN_URL, data, HTTP_AUTHORIZATION=basic(client_id), REMOTE_ADDR=ip)


def basic_auth(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def issue(app_with_secret, ip: str = "203.0.113.1"):
    """A client_credentials request that authenticates (a token, unless limited)."""
    app = app_with_secret.app
    auth = basic_auth(app.client_id, app_with_secret.client_secret)
    data = {"grant_type": "client_credentials"}
    return Client().post(TOKEN_URL, data, HTTP_AUTHORIZATION=auth, REMOTE_ADDR=ip)


def password_grant(username: str, password: str = WRONG, ip: str = "203.0.113.1", **meta):
    data = {"grant_type": "password", "username": username, "password": password}
    meta.setdefault("HTTP_AUTHORIZATION", basic("any-app"))
    return Client().post(TOKEN_URL, data, REMOTE_ADDR=ip, **meta)


def platform_login(username: str, password: str = WRONG, ip: str = "203.0.113.1"):
    data = {"username": username, "password": password}
    return Client().post(PLATFORM_LOGIN_URL, data, REMOTE_ADDR=ip)


@pytest.fixture
def password_app(make_app):
    return make_app(grant_types=["password"], redirect_uris=[], scopes=["profile"])


def password_app_auth(app_with_secret) -> dict:
    app = app_with_secret.app
    return {"HTTP_AUTHORIZATION": basic_auth(app.client_id, app_with_secret.client_secret)}


def login_page(ip: str = "203.0.113.1"):
    data = {"login": "nobody", "password": "wrong"}
    return Client().post(LOGIN_PAGE_URL, data, REMOTE_ADDR=ip)


def assert_rate_limited_json(response) -> None:
    assert response.status_code == 429, response.content
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "error": "temporarily_unavailable",
        "error_description": RATE_LIMITED_DESCRIPTION,
    }


@pytest.mark.django_db
@override_settings(
    DOORMAN_RATELIMIT_TOKEN_PER_CLIENT="2/m", DOORMAN_RATELIMIT_TOKEN_PER_IP=GENEROUS
)
def test_the_token_budget_is_spent_only_by_requests_authenticated_as_the_client(cc_app):
    """SPEC §10: requests naming a client that fail its authentication never spend its
    budget, whether they name it in Basic or in the body."""
    client_id = cc_app.app.client_id
    for _ in range(3):
        assert token_request(client_id).status_code == 401
        response = Client().post(
            TOKEN_URL,
            {"grant_type": "client_credentials", "client_id": client_id, "client_secret": "x"},
            REMOTE_ADDR="203.0.113.1",
        )
        assert response.status_code == 401
    assert issue(cc_app).status_code == 200
    assert issue(cc_app).status_code == 200
    limited = issue(cc_app)
    assert_rate_limited_json(limited)
    assert limited["Cache-Control"] == "no-store"
    # Exhausted, its client_id is refused before any authentication, whoever sends it.
    assert_rate_limited_json(token_request(client_id, ip="198.51.100.1"))
    assert token_request("app-b").status_code == 401  # another client has its own count


@pytest.mark.django_db
@override_settings(
    DOORMAN_RATELIMIT_TOKEN_PER_CLIENT="2/m", DOORMAN_RATELIMIT_TOKEN_PER_IP=GENEROUS
)
def test_oauthlibs_grants_spend_the_budget_once_the_client_authenticated(make_app, member):
    """The password grant goes through oauthlib: a wrong secret spends nothing, a wrong
    password does (the client authenticated), and so does a token."""
    app = make_app(grant_types=["password"], redirect_uris=[], scopes=["profile"])
    auth = {"HTTP_AUTHORIZATION": basic_auth(app.app.client_id, "wrong-secret")}
    for _ in range(3):
        assert password_grant(member.username, **auth).status_code == 401
    auth = {"HTTP_AUTHORIZATION": basic_auth(app.app.client_id, app.client_secret)}
    assert password_grant(member.username, **auth).status_code == 400  # invalid_grant
    assert password_grant(member.username, DEFAULT_PASSWORD, **auth).status_code == 200
    assert_rate_limited_json(password_grant(member.username, DEFAULT_PASSWORD, **auth))


@pytest.mark.django_db
@override_settings(
    DOORMAN_RATELIMIT_TOKEN_PER_CLIENT=GENEROUS, DOORMAN_RATELIMIT_TOKEN_PER_IP="2/m"
)
def test_token_endpoint_is_limited_per_ip():
    assert token_request("app-a").status_code == 401
    assert token_request("app-b").status_code == 401
    assert_rate_limited_json(token_request("app-c"))
    assert token_request("app-c", ip="203.0.113.2").status_code == 401


@pytest.mark.django_db
@override_settings(DOORMAN_RATELIMIT_PASSWORD_PER_IP=GENEROUS, DOORMAN_LOGIN_MAX_FAILURES=3)
def test_no_number_of_guesses_from_elsewhere_refuses_the_user(member):
    """SPEC §10: guesses from many addresses never keep the user out, from anywhere."""
    for n in range(40):
        assert platform_login(member.username, ip=f"198.51.{n}.1").status_code == 401
    assert platform_login(member.username, DEFAULT_PASSWORD, ip="192.0.2.99").status_code == 200


@pytest.mark.django_db
@override_settings(DOORMAN_RATELIMIT_PASSWORD_PER_IP="2/m")
def test_password_failures_are_limited_per_ip(password_app, member):
    auth = password_app_auth(password_app)
    for _ in range(3):  # successes spend nothing
        assert platform_login(member.username, DEFAULT_PASSWORD).status_code == 200
        assert password_grant(member.username, DEFAULT_PASSWORD, **auth).status_code == 200
    assert platform_login("u1").status_code == 401
    assert password_grant("u2", **auth).status_code == 400
    assert_rate_limited_json(platform_login("u3"))
    assert_rate_limited_json(password_grant("u4", **auth))
    assert_rate_limited_json(platform_login(member.username, DEFAULT_PASSWORD))
    assert platform_login("u5", ip="203.0.113.2").status_code == 401


@pytest.mark.django_db
@override_settings(DOORMAN_RATELIMIT_LOGIN_PAGE_PER_IP="2/m")
def test_login_page_posts_are_limited_per_ip_with_an_html_page():
    assert login_page().status_code == 200  # the form again, with its error
    assert login_page().status_code == 200
    response = login_page()
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response["Content-Type"].startswith("text/html")
    assert b"Too many attempts" in response.content
    assert login_page(ip="203.0.113.2").status_code == 200
    assert Client().get(LOGIN_PAGE_URL, REMOTE_ADDR="203.0.113.1").status_code == 200


@pytest.mark.django_db
@override_settings(DOORMAN_RATELIMIT_LOGIN_PAGE_PER_IP="2/m")
def test_signing_in_on_the_login_page_spends_nothing(member):
    for _ in range(4):  # an office behind one address
        data = {"login": member.username, "password": DEFAULT_PASSWORD}
        assert Client().post(LOGIN_PAGE_URL, data, REMOTE_ADDR="203.0.113.1").status_code == 302
    assert login_page().status_code == 200
    assert login_page().status_code == 200
    assert login_page().status_code == 429


@pytest.mark.django_db
@override_settings(DOORMAN_RATELIMIT_TOKEN_PER_CLIENT="5/m", DOORMAN_RATELIMIT_TOKEN_PER_IP="5/m")
def test_a_token_costs_one_limiter_round_trip(cc_app, monkeypatch):
    """The client's budget is spent after the token is issued without waiting on the cache:
    a successful request waits on the limiter once, as before (its check)."""
    assert issue(cc_app).status_code == 200  # the app is remembered
    calls = []
    count = ratelimit._count
    monkeypatch.setattr(ratelimit, "_count", lambda *args: calls.append(args) or count(*args))
    assert issue(cc_app).status_code == 200
    assert len(calls) == 1


@pytest.mark.django_db
@override_settings(
    DOORMAN_RATELIMIT_ENABLED=False,
    DOORMAN_RATELIMIT_TOKEN_PER_CLIENT="1/m",
    DOORMAN_RATELIMIT_TOKEN_PER_IP="1/m",
    DOORMAN_RATELIMIT_PASSWORD_PER_IP="1/m",
    DOORMAN_RATELIMIT_LOGIN_PAGE_PER_IP="1/m",
)
def test_the_switch_turns_every_limiter_off_without_touching_the_cache(monkeypatch):
    monkeypatch.setattr(ratelimit, "_count", lambda keys: pytest.fail("the cache was used"))
    for n in range(3):
        assert token_request("app-a").status_code == 401
        assert password_grant(f"user-{n}").status_code == 401
        assert platform_login(f"other-{n}").status_code == 401
        assert login_page().status_code == 200


@pytest.mark.parametrize(
    ("rate", "parsed"), [("30/m", (30, 60)), ("600/s", (600, 1)), ("100/5m", (100, 300))]
)
def test_rates_parse(rate, parsed):
    assert parse_rate(rate) == parsed


@pytest.mark.parametrize(
    ("header", "client_id"),
    [
        (basic("my%20app"), "my app"),  # RFC 6749 §2.3.1: form-urlencoded
        ("Bearer abc", ""),
        ("Basic !!!", ""),
        ("Basic", ""),
        ("BASIC \x80", ""),
    ],
)
def test_basic_client_id_is_parsed_without_authenticating(header, client_id):
    assert basic_client_id(header) == client_id


@pytest.mark.django_db
@override_settings(
    DOORMAN_RATELIMIT_TOKEN_PER_CLIENT="1/m",
    DOORMAN_RATELIMIT_TOKEN_PER_IP="2/m",
    DOORMAN_RATELIMIT_PASSWORD_PER_IP="1/m",
)
def test_a_limited_request_never_reaches_the_database(cc_app, django_assert_num_queries):
    assert issue(cc_app).status_code == 200
    assert token_request("app-a", ip="198.51.100.3").status_code == 401
    assert token_request("app-a", ip="198.51.100.3").status_code == 401
    platform_login("carol")
    with django_assert_num_queries(0):
        assert_rate_limited_json(issue(cc_app, ip="198.51.100.4"))  # the client's budget
        assert_rate_limited_json(token_request("app-a", ip="198.51.100.3"))  # the IP's
        assert_rate_limited_json(platform_login("carol"))


@pytest.mark.django_db
@override_settings(DOORMAN_RATELIMIT_TOKEN_PER_CLIENT="", DOORMAN_RATELIMIT_TOKEN_PER_IP="")
def test_an_empty_rate_turns_that_limit_off():
    for _ in range(3):
        assert token_request("app-a").status_code == 401
