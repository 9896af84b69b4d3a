"""Oversize input is refused early: a body over DATA_UPLOAD_MAX_MEMORY_SIZE is a 413 JSON error
on every API and OAuth path, too many fields likewise, and very long headers are a 4xx.

The WSGI server refuses long header lines before Django sees them (gunicorn's
`limit_request_line` 4094 and `limit_request_field_size` 8190 bytes, `limit_request_fields`
100): that belongs to the gunicorn configuration, which the test client cannot exercise; these
tests check that whatever gets through is still refused cleanly."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from oauth.models import AccessToken
from tests.oauth.helpers import bearer, mint_access_token
from tests.oauth.tokenkit import (
    INTROSPECT_URL,
    LOGIN_URL,
    PROFILE_URL,
    REVOKE_URL,
    TOKEN_URL,
    isolated_throttle,  # noqa: F401 (autouse fixture)
)

pytestmark = pytest.mark.django_db

OAUTH_URLS = [TOKEN_URL, INTROSPECT_URL, REVOKE_URL, LOGIN_URL]
API_URLS = ["/accounts/api/connectedApplications", "/accounts/api/organizations/{org}/users"]


def big() -> int:
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1024


def assert_json_413(response) -> dict:
    assert response.status_code == 413, (response.status_code, response.content[:200])
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"], body
    return body


@pytest.mark.parametrize("url", OAUTH_URLS)
@pytest.mark.parametrize("kind", ["json", "form", "multipart"])
def test_oversize_oauth_bodies_are_413_json(url, kind, cc_app):
    before = AccessToken.objects.count()
    client = Client()
    creds = {"grant_type": "client_credentials", "client_id": cc_app.app.client_id}
    if kind == "json":
        body = json.dumps({**creds, "client_secret": "x" * big()})
        response = client.post(url, body, content_type="application/json")
    elif kind == "form":
        body = "&".join(f"{k}={v}" for k, v in creds.items()) + "&pad=" + "x" * big()
        response = client.post(url, body, content_type="application/x-www-form-urlencoded")
    else:
        response = client.post(url, {**creds, "pad": "x" * big()})
    assert_json_413(response)
    assert AccessToken.objects.count() == before


@pytest.mark.parametrize("url", OAUTH_URLS)
def test_too_many_fields_is_refused_as_json(url):
    count = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 10
    body = "&".join(f"f{i}=1" for i in range(count))
    response = Client().post(url, body, content_type="application/x-www-form-urlencoded")
    assert response.status_code in (400, 413), response.status_code
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]


@pytest.mark.parametrize("url", API_URLS)
@pytest.mark.parametrize("method", ["post", "put", "patch"])
def test_oversize_api_bodies_are_413_json(url, method, org, admin):
    client = APIClient()
    client.force_authenticate(user=admin)
    body = json.dumps({"client_name": "x" * big()})
    before = AccessToken.objects.count()
    response = getattr(client, method)(
        url.format(org=org.id), body, content_type="application/json"
    )
    if response.status_code == 405:  # the method does not exist here: refused before reading
        assert response["Content-Type"].startswith("application/json")
        return
    assert_json_413(response)
    assert AccessToken.objects.count() == before


@pytest.mark.parametrize(
    "url", [PROFILE_URL, "/accounts/api/connectedApplications", TOKEN_URL, INTROSPECT_URL]
)
@pytest.mark.parametrize("scheme", ["Bearer", "Basic", "Negotiate"])
def test_a_64_kb_authorization_header_is_a_json_4xx(url, scheme):
    value = f"{scheme} " + "A" * 65536
    client = Client()
    if url in (TOKEN_URL, INTROSPECT_URL):
        response = client.post(url, {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=value)
    else:
        response = client.get(url, HTTP_AUTHORIZATION=value)
    assert 400 <= response.status_code < 500, response.status_code
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]


@pytest.mark.parametrize("url", [PROFILE_URL, "/", "/auth/login/", TOKEN_URL])
def test_a_huge_cookie_is_not_a_500(url, member):
    raw = mint_access_token(user=member, scope="full")
    cookie = "; ".join(
        [f"sessionid={'s' * 40000}", f"csrftoken={'c' * 20000}"]
        + [f"c{i}={'v' * 50}" for i in range(300)]
    )
    client = Client()
    if url == TOKEN_URL:
        response = client.post(url, {"grant_type": "client_credentials"}, HTTP_COOKIE=cookie)
    else:
        response = client.get(
            url, HTTP_COOKIE=cookie, **(bearer(raw) if url == PROFILE_URL else {})
        )
    assert response.status_code < 500, response.status_code
    if url == PROFILE_URL:
        assert response.status_code == 200  # the bearer token still counts; the cookie is noise
