"""Token, introspection and revocation endpoints under arbitrary input (SPEC §4): always an
RFC 6749 §5.2 JSON error (or a legitimate 200), never a 500, never a stack trace or HTML, and
a refused request stores no token."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from hypothesis import given, settings
from hypothesis import strategies as st

from oauth.models import AccessToken, Grant, IDToken, RefreshToken
from tests.hostile.conftest import examples
from tests.hostile.strategies import JSON_VALUE, NASTY_TEXT, auth_headers
from tests.oauth.tokenkit import (
    INTROSPECT_URL,
    JWT_BEARER,
    REVOKE_URL,
    TOKEN_URL,
    isolated_throttle,  # noqa: F401 (autouse fixture)
)

pytestmark = pytest.mark.django_db

GRANT_TYPES = st.one_of(
    st.sampled_from(
        [
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "password",
            JWT_BEARER,
            "implicit",
            "",
        ]
    ),
    NASTY_TEXT,
)
PARAM_NAMES = st.one_of(
    st.sampled_from(
        [
            "grant_type",
            "client_id",
            "client_secret",
            "code",
            "redirect_uri",
            "code_verifier",
            "refresh_token",
            "scope",
            "username",
            "password",
            "assertion",
            "client_assertion",
            "client_assertion_type",
            "token",
            "token_type_hint",
        ]
    ),
    NASTY_TEXT,
)


def token_rows() -> tuple[int, int, int, int]:
    return (
        AccessToken.objects.count(),
        RefreshToken.objects.count(),
        Grant.objects.count(),
        IDToken.objects.count(),
    )


def assert_safe(response, *, rows_before, legit_ok: bool = True) -> None:
    """The hostile-input contract of an OAuth endpoint."""
    status = response.status_code
    assert status < 500 or status == 503, (status, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    text = response.content.decode("utf-8", "replace")
    assert "Traceback" not in text and "<html" not in text.lower(), text[:300]
    body = json.loads(text)
    if status >= 400:
        assert isinstance(body.get("error"), str) and body["error"], body
        assert token_rows() == rows_before
    else:
        assert legit_ok and status == 200, (status, body)


def client_fields(app_with_secret):
    """Parameter sets that sometimes carry the real client credentials, to get past auth."""
    real = {
        "client_id": app_with_secret.app.client_id,
        "client_secret": app_with_secret.client_secret,
    }
    return st.one_of(st.just({}), st.just(real), st.just({"client_id": real["client_id"]}))


def _form_value():
    return st.one_of(NASTY_TEXT, st.lists(NASTY_TEXT, min_size=2, max_size=3))


@pytest.mark.parametrize("url", [TOKEN_URL, INTROSPECT_URL, REVOKE_URL])
def test_form_bodies_never_break_the_endpoint(url, cc_app, code_app):
    @settings(max_examples=examples(30))
    @given(
        creds=st.one_of(client_fields(cc_app), client_fields(code_app)),
        grant_type=st.one_of(st.none(), GRANT_TYPES),
        extra=st.dictionaries(PARAM_NAMES, _form_value(), max_size=6),
        authorization=auth_headers(cc_app.app.client_id),
    )
    def check(creds, grant_type, extra, authorization):
        data = {**extra, **creds}
        if grant_type is not None:
            data["grant_type"] = grant_type
        meta = {"HTTP_AUTHORIZATION": authorization} if authorization is not None else {}
        before = token_rows()
        response = Client().post(url, data, **meta)
        assert_safe(response, rows_before=before)

    check()


@pytest.mark.parametrize("url", [TOKEN_URL, INTROSPECT_URL, REVOKE_URL])
def test_json_bodies_never_break_the_endpoint(url, cc_app):
    @settings(max_examples=examples(30))
    @given(
        body=st.one_of(
            JSON_VALUE,
            st.dictionaries(PARAM_NAMES, JSON_VALUE, max_size=6),
            st.builds(
                lambda creds, grant, extra: {**extra, **creds, "grant_type": grant},
                client_fields(cc_app),
                GRANT_TYPES,
                st.dictionaries(PARAM_NAMES, JSON_VALUE, max_size=4),
            ),
        ),
        authorization=auth_headers(cc_app.app.client_id),
    )
    def check(body, authorization):
        meta = {"HTTP_AUTHORIZATION": authorization} if authorization is not None else {}
        before = token_rows()
        response = Client().post(url, json.dumps(body), content_type="application/json", **meta)
        assert_safe(response, rows_before=before)

    check()


@pytest.mark.parametrize("url", [TOKEN_URL, INTROSPECT_URL, REVOKE_URL])
def test_raw_bytes_and_odd_content_types(url):
    @settings(max_examples=examples(25))
    @given(
        raw=st.one_of(
            st.binary(max_size=300),
            st.sampled_from(
                [
                    b'{"grant_type": "client_credentials", "grant_type": "password"}',
                    b"\xff\xfe{}",
                    b"[" * 5000 + b"]" * 5000,
                    b'{"a":' * 3000 + b"1" + b"}" * 3000,
                    b"grant_type=%ZZ&client_id=%00",
                    b"grant_type=client_credentials&grant_type=password",
                    b"=&=&&&=",
                ]
            ),
        ),
        content_type=st.sampled_from(
            [
                "application/json",
                "application/x-www-form-urlencoded",
                "application/x-www-form-urlencoded; charset=latin-1",
                "application/json; charset=utf-16",
                "multipart/form-data; boundary=zzz",
                "multipart/form-data",
                "text/plain",
                "application/xml",
                "",
            ]
        ),
    )
    def check(raw, content_type):
        before = token_rows()
        response = Client().generic("POST", url, raw, content_type=content_type)
        assert_safe(response, rows_before=before, legit_ok=False)

    check()


def test_a_legitimate_request_still_works_in_between(cc_app):
    """The properties above would pass on an endpoint that refused everything."""
    response = Client().post(
        TOKEN_URL,
        {
            "grant_type": "client_credentials",
            "client_id": cc_app.app.client_id,
            "client_secret": cc_app.client_secret,
        },
    )
    assert response.status_code == 200, response.content
    assert "access_token" in response.json()


@pytest.mark.parametrize("url", [TOKEN_URL, INTROSPECT_URL, REVOKE_URL])
@pytest.mark.parametrize(
    "authorization",
    ["Basic ADo0", "Basic YQBiOmM=", "Basic " + "QUFB" * 40],  # "\x00:4", "a\x00b:c", long id
)
def test_basic_client_ids_no_app_can_have_are_invalid_client(url, authorization):
    """Found by the property test on PostgreSQL: a NUL in the Basic client id reached the
    database (psycopg 3 raises DataError, which DOT does not catch) and gave a 500."""
    response = Client().post(
        url, {"grant_type": "client_credentials", "token": "x"}, HTTP_AUTHORIZATION=authorization
    )
    assert response.status_code == 401, response.content
    assert response.json()["error"] == "invalid_client"
