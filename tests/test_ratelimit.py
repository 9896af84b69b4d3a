"""Request-rate limits (oauth/ratelimit.py): the token endpoint per client and per IP,
password sign-ins per IP and per username, the portal's login page per IP; 429 + Retry-After;
DOORMAN_RATELIMIT_ENABLED=false switches everything off."""

from __future__ import annotations

import base64

import pytest
from django.test import Client, override_settings

from oauth import ratelimit
from oauth.ratelimit import RATE_LIMITED_DESCRIPTION, basic_client_id, client_ip, parse_rate

TOKEN_URL = "/accounts/api/v2/oauth2/token"
PLATFORM_LOGIN_URL = "/accounts/login"
LOGIN_PAGE_URL = "/auth/login/"
GENEROUS = "1000/m"


def basic(client_id: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:wrong".encode()).decode()


def token_request(client_id: str, ip: str = "203.0.113.1", **body):
    data = {"grant_type": "client_credentials", **body}
    return Client().post(TOKEN_URL, data, HTTP_AUTHORIZATION=basic(client_id), REMOTE_ADDR=ip)


def password_grant(username: str, ip: str = "203.0.113.1"):
    data = {"grant_type": "password", "username": username, "password": "wrong"}
    return Client().post(TOKEN_URL, data, HTTP_AUTHORIZATION=basic("any-app"), REMOTE_ADDR=ip)


def platform_login(username: str, ip: str = "203.0.113.1"):
    data = {"username": username, "password": "wrong"}
    return Client().post(PLATFORM_LOGIN_URL, data, REMOTE_ADDR=ip)


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
def test_token_endpoint_is_limited_per_client_id_authenticated_or_not():
    assert token_request("app-a").status_code == 401
    # The body's client_id counts against the same client as Basic's.
    response = Client().post(
        TOKEN_URL,
        {"grant_type": "client_credentials", "client_id": "app-a", "client_secret": "x"},
        REMOTE_ADDR="203.0.113.1",
    )
    assert response.status_code == 401
    limited = token_request("app-a")
    assert_rate_limited_json(limited)
    assert limited["Cache-Control"] == "no-store"
    assert token_request("app-b").status_code == 401  # another client has its own count


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
@override_settings(
    DOORMAN_RATELIMIT_PASSWORD_PER_USERNAME="2/m", DOORMAN_RATELIMIT_PASSWORD_PER_IP=GENEROUS
)
def test_password_sign_ins_are_limited_per_username_across_both_endpoints():
    assert password_grant("Alice").status_code == 401
    assert platform_login("alice", ip="198.51.100.7").status_code == 401
    assert_rate_limited_json(password_grant("alice", ip="198.51.100.8"))
    assert_rate_limited_json(platform_login("ALICE"))
    assert platform_login("bob").status_code == 401


@pytest.mark.django_db
@override_settings(
    DOORMAN_RATELIMIT_PASSWORD_PER_USERNAME=GENEROUS, DOORMAN_RATELIMIT_PASSWORD_PER_IP="2/m"
)
def test_password_sign_ins_are_limited_per_ip():
    assert platform_login("u1").status_code == 401
    assert password_grant("u2").status_code == 401
    assert_rate_limited_json(platform_login("u3"))
    assert_rate_limited_json(password_grant("u4"))
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
@override_settings(
    DOORMAN_RATELIMIT_ENABLED=False,
    DOORMAN_RATELIMIT_TOKEN_PER_CLIENT="1/m",
    DOORMAN_RATELIMIT_TOKEN_PER_IP="1/m",
    DOORMAN_RATELIMIT_PASSWORD_PER_IP="1/m",
    DOORMAN_RATELIMIT_PASSWORD_PER_USERNAME="1/m",
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


def test_client_ip_is_remote_addr_unless_proxies_are_trusted(rf, settings):
    request = rf.post("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.5")
    settings.DOORMAN_TRUSTED_PROXY_COUNT = 0
    assert client_ip(request) == "10.0.0.2"
    settings.DOORMAN_TRUSTED_PROXY_COUNT = 1
    assert client_ip(request) == "203.0.113.5"
    settings.DOORMAN_TRUSTED_PROXY_COUNT = 3  # fewer hops than proxies: not trusted
    assert client_ip(request) == "10.0.0.2"


@pytest.mark.django_db
@override_settings(
    DOORMAN_RATELIMIT_TOKEN_PER_CLIENT="1/m", DOORMAN_RATELIMIT_PASSWORD_PER_IP="1/m"
)
def test_a_limited_request_never_reaches_the_database(django_assert_num_queries):
    token_request("app-a")
    platform_login("carol")
    with django_assert_num_queries(0):
        assert_rate_limited_json(token_request("app-a"))
        assert_rate_limited_json(platform_login("carol"))


@pytest.mark.django_db
@override_settings(DOORMAN_RATELIMIT_TOKEN_PER_CLIENT="", DOORMAN_RATELIMIT_TOKEN_PER_IP="")
def test_an_empty_rate_turns_that_limit_off():
    for _ in range(3):
        assert token_request("app-a").status_code == 401
