"""The token endpoint as an HTTP API (RFC 6749 §3.2, §5.2; SPEC §4): bodies, methods, errors
and client authentication. Every answer is JSON with `Cache-Control: no-store`."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.access import Access
from audit.models import AuditAction, AuditEvent
from connected_apps.services import connected_app_update
from tests.oauth.tokenkit import (
    TOKEN_URL,
    assert_oauth_error,
    basic,
    bearer_profile,
    client_credentials,
    isolated_throttle,  # noqa: F401 (autouse fixture)
    post_form,
    post_json,
)

pytestmark = pytest.mark.django_db


# -- bodies ---------------------------------------------------------------------------------------
def test_form_body_issues_a_token(cc_app):
    response = post_form(client_credentials(cc_app))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert response["Cache-Control"] == "no-store"
    assert response["Pragma"] == "no-cache"
    assert bearer_profile(body["access_token"]).status_code == 200


def test_json_body_issues_a_token(cc_app):
    response = post_json(client_credentials(cc_app))
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    assert bearer_profile(response.json()["access_token"]).status_code == 200


def test_json_scope_may_be_a_list(cc_app):
    response = post_json(client_credentials(cc_app, scope=["profile", "read:organization"]))
    assert response.status_code == 200, response.content
    assert response.json()["scope"] == "profile read:organization"


def test_json_null_is_an_absent_parameter(cc_app):
    response = post_json(client_credentials(cc_app, scope=None))
    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b'{"grant_type": "client_credentials"', b"\xff\xfe", b"[[[[[[[[[["],
    ids=["garbage", "truncated", "not-utf8", "unclosed-array"],
)
def test_malformed_json_is_invalid_request(raw):
    response = Client().post(TOKEN_URL, raw, content_type="application/json")
    body = assert_oauth_error(response, "invalid_request")
    assert "JSON" in body["error_description"]


def test_deeply_nested_json_is_invalid_request():
    raw = b"[" * 100_000 + b"]" * 100_000
    response = Client().post(TOKEN_URL, raw, content_type="application/json")
    assert_oauth_error(response, "invalid_request")


@pytest.mark.parametrize("payload", [[1, 2], ["grant_type"], "client_credentials", 42, True])
def test_non_object_json_is_invalid_request(payload):
    assert_oauth_error(post_json(payload), "invalid_request")


@pytest.mark.parametrize("value", [123, 1.5, True, ["client_credentials"], {"a": "b"}], ids=repr)
def test_non_string_parameter_is_invalid_request(cc_app, value):
    response = post_json({**client_credentials(cc_app), "grant_type": value})
    body = assert_oauth_error(response, "invalid_request")
    assert "grant_type" in body["error_description"]


def test_scope_list_of_non_strings_is_invalid_request(cc_app):
    assert_oauth_error(post_json(client_credentials(cc_app, scope=[1, 2])), "invalid_request")


def test_nul_byte_in_a_parameter_is_invalid_request(cc_app):
    response = post_json(client_credentials(cc_app, client_id="abc\x00def"))
    assert_oauth_error(response, "invalid_request")


def test_other_content_type_is_invalid_request(cc_app):
    response = Client().post(TOKEN_URL, b"grant_type=client_credentials", content_type="text/plain")
    assert_oauth_error(response, "invalid_request")


def test_repeated_parameter_is_invalid_request(cc_app):
    # RFC 6749 §3.2: request parameters MUST NOT be included more than once.
    body = "&".join(
        [
            "grant_type=client_credentials",
            f"client_id={cc_app.app.client_id}",
            f"client_secret={cc_app.client_secret}",
            "scope=profile",
            "scope=read%3Aorganization",
        ]
    )
    response = Client().post(TOKEN_URL, body, content_type="application/x-www-form-urlencoded")
    body = assert_oauth_error(response, "invalid_request")
    assert "scope" in body["error_description"]


@pytest.mark.parametrize("query", ["grant_type=client_credentials", "x=%zz", "a"])
def test_query_string_is_invalid_request(cc_app, query):
    response = Client().post(f"{TOKEN_URL}?{query}", client_credentials(cc_app))
    assert_oauth_error(response, "invalid_request")


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete", "options", "head"])
def test_other_methods_are_405_json(method):
    response = getattr(Client(), method)(TOKEN_URL)
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response["Content-Type"].startswith("application/json")
    if method != "head":
        assert response.json()["error"] == "invalid_request"


def test_empty_body_is_invalid_request():
    body = assert_oauth_error(post_form({}), "invalid_request")
    assert "grant_type" in body["error_description"]


def test_unknown_grant_type_is_unsupported(cc_app):
    response = post_form(client_credentials(cc_app, grant_type="urn:example:magic"))
    assert_oauth_error(response, "unsupported_grant_type")


@pytest.mark.parametrize(
    "grant_type", ["openid", "implicit", "urn:ietf:params:oauth:grant-type:device_code"]
)
def test_grants_oauthlib_knows_but_doorman_does_not_offer(cc_app, grant_type):
    response = post_form(client_credentials(cc_app, grant_type=grant_type))
    assert_oauth_error(response, "unsupported_grant_type")


def test_unexpected_exception_is_json_server_error(cc_app, monkeypatch):
    def explode(request, params, context):
        raise RuntimeError("boom")

    monkeypatch.setattr("oauth.views.token.token_response", explode)
    body = assert_oauth_error(post_form(client_credentials(cc_app)), "server_error", 500)
    assert "boom" not in body["error_description"]


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "form"])
def test_oversize_body_is_413_json(as_json):
    padding = "x" * (2 * 1024 * 1024)
    if as_json:
        response = post_json({"grant_type": "client_credentials", "pad": padding})
    else:
        response = post_form({"grant_type": "client_credentials", "pad": padding})
    assert_oauth_error(response, "invalid_request", 413)


def test_too_many_fields_is_413_json():
    assert_oauth_error(post_form({f"f{n}": "x" for n in range(3000)}), "invalid_request", 413)


def test_database_trouble_is_503_to_retry(cc_app, monkeypatch):
    from django.db import OperationalError
    from django.db.backends.utils import CursorWrapper

    def busy(self, *args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(CursorWrapper, "execute", busy)
    response = post_form(client_credentials(cc_app))
    assert_oauth_error(response, "temporarily_unavailable", 503)
    assert response["Retry-After"] == "1"


# -- client authentication (RFC 6749 §2.3.1) ------------------------------------------------------
def test_basic_authentication(cc_app):
    app = cc_app.app
    response = post_form(
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic(app.client_id, cc_app.client_secret),
    )
    assert response.status_code == 200, response.content


def test_basic_authentication_with_a_json_body(cc_app):
    app = cc_app.app
    response = post_json(
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic(app.client_id, cc_app.client_secret),
    )
    assert response.status_code == 200, response.content


def test_wrong_secret_in_the_body_is_401_invalid_client(cc_app):
    response = post_form(client_credentials(cc_app, client_secret="wrong"))
    assert_oauth_error(response, "invalid_client", 401)
    assert response["WWW-Authenticate"] == 'Basic realm="doorman"'


def test_wrong_secret_with_basic_is_401_with_a_basic_challenge(cc_app):
    response = post_form(
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic(cc_app.app.client_id, "wrong"),
    )
    assert_oauth_error(response, "invalid_client", 401)
    assert response["WWW-Authenticate"] == 'Basic realm="doorman"'


def test_missing_secret_is_invalid_client(cc_app):
    data = client_credentials(cc_app)
    del data["client_secret"]
    assert_oauth_error(post_form(data), "invalid_client", 401)


def test_unknown_client_is_invalid_client():
    data = {"grant_type": "client_credentials", "client_id": "0" * 32, "client_secret": "x"}
    assert_oauth_error(post_form(data), "invalid_client", 401)


def test_malformed_basic_header_is_invalid_client():
    response = post_form(
        {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION="Basic %%%not-base64"
    )
    assert_oauth_error(response, "invalid_client", 401)


def test_basic_for_one_app_and_client_id_of_another_is_invalid_client(cc_app, make_app):
    other = make_app(
        client_name="Other",
        grant_types=["client_credentials"],
        redirect_uris=[],
        scopes=["read:organization"],
    )
    response = post_form(
        {"grant_type": "client_credentials", "client_id": other.app.client_id},
        HTTP_AUTHORIZATION=basic(cc_app.app.client_id, cc_app.client_secret),
    )
    assert_oauth_error(response, "invalid_client", 401)


def test_secret_of_another_app_is_invalid_client(cc_app, code_app):
    response = post_form(client_credentials(cc_app, client_secret=code_app.client_secret))
    assert_oauth_error(response, "invalid_client", 401)


def test_disabled_app_gets_no_token_and_its_tokens_stop(cc_app, admin):
    token = post_form(client_credentials(cc_app)).json()["access_token"]
    connected_app_update(access=Access(user=admin), app=cc_app.app, changes={"enabled": False})
    assert_oauth_error(post_form(client_credentials(cc_app)), "invalid_client", 401)
    assert bearer_profile(token).status_code == 401


def test_rotated_secret_is_refused(cc_app, admin):
    from connected_apps.services import connected_app_rotate_secret

    rotated = connected_app_rotate_secret(access=Access(user=admin), app=cc_app.app)
    assert_oauth_error(post_form(client_credentials(cc_app)), "invalid_client", 401)
    response = post_form(client_credentials(cc_app, client_secret=rotated.client_secret))
    assert response.status_code == 200, response.content


# -- audit ----------------------------------------------------------------------------------------
def test_failed_client_auth_is_audited_without_the_secret(cc_app, org):
    post_form(client_credentials(cc_app, client_secret="wrong-secret-value"))
    event = AuditEvent.objects.get(action=AuditAction.TOKEN_REFUSED)
    assert event.outcome == "failure"
    assert event.actor_client_id == cc_app.app.client_id
    assert event.organization_id == org.id
    assert event.details == {"grant_type": "client_credentials", "error": "invalid_client"}
    assert "wrong-secret-value" not in str(event.__dict__)


def test_unknown_client_leaves_no_audit_event():
    post_form({"grant_type": "client_credentials", "client_id": "nope", "client_secret": "x"})
    assert not AuditEvent.objects.filter(action=AuditAction.TOKEN_REFUSED).exists()
