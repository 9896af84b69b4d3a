"""oauth.wsgi.TokenFastPath: client_credentials, refresh and code requests answered ahead of
Django's request cycle get exactly the Django path's answer, and everything else reaches Django
intact."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from django.core import signals
from django.db import OperationalError
from django.test import override_settings

from audit.models import AuditAction, AuditEvent
from config.wsgi import application
from oauth.models import AccessToken
from oauth.wsgi import TokenFastPath
from tests.oauth.tokenkit import TOKEN_URL, basic, client_credentials, post_form, sha256
from tests.wsgi_kit import Answer, call

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def connections_kept():
    """As Django's test client does: the request signals must not close the test's
    connection (it holds the test's transaction)."""
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


COMPARED_HEADERS = (
    "Content-Type",
    "Cache-Control",
    "Pragma",
    "X-Frame-Options",
    "X-Content-Type-Options",
    "Referrer-Policy",
    "Cross-Origin-Opener-Policy",
)


def cc_call(app_with_secret, *, wsgi_app=application, **params) -> Answer:
    app = app_with_secret.app
    body = urlencode({"grant_type": "client_credentials", **params})
    secret = app_with_secret.client_secret
    return call(body, app=wsgi_app, HTTP_AUTHORIZATION=basic(app.client_id, secret))


@pytest.fixture
def django_path(monkeypatch):
    """The paths (URLs) of requests that reached Django's token view."""
    from oauth.views.token import DoormanTokenView

    reached = []
    original = DoormanTokenView.dispatch

    def dispatch(self, request, *args, **kwargs):
        reached.append(request.path)
        return original(self, request, *args, **kwargs)

    monkeypatch.setattr(DoormanTokenView, "dispatch", dispatch)
    return reached


def test_the_production_application_is_wrapped():
    assert isinstance(application, TokenFastPath)


def test_a_client_credentials_request_is_answered_without_django(cc_app, django_path):
    answer = cc_call(cc_app, scope="read:organization")
    assert answer.status == "200 OK"
    body = answer.json()
    assert set(body) == {"access_token", "expires_in", "token_type", "scope"}
    token = AccessToken.objects.get(token_checksum=sha256(body["access_token"]))
    assert token.application_id == cc_app.app.pk and token.scope == "read:organization"
    assert token.token == ""  # only the checksum is stored
    assert AuditEvent.objects.filter(action=AuditAction.TOKEN_ISSUED).count() == 1
    assert django_path == []


def test_the_answer_has_the_django_paths_headers(cc_app, django_path):
    fast = cc_call(cc_app)
    assert django_path == []
    slow = post_form(client_credentials(cc_app))
    assert django_path == [TOKEN_URL]
    assert slow.status_code == fast.status_code == 200
    for name in COMPARED_HEADERS:
        assert fast.headers[name] == slow[name], name


@override_settings(SECURE_HSTS_SECONDS=3600)
def test_a_secure_request_gets_the_django_paths_headers_too(cc_app, django_path):
    """The fast path works a token response's headers out once per kind of request: a
    secure one after a plain one still gets HSTS, as from Django's path."""
    from django.core.wsgi import get_wsgi_application

    wsgi_app = TokenFastPath(get_wsgi_application())  # its middleware reads these settings
    plain = cc_call(cc_app, wsgi_app=wsgi_app)
    secret = cc_app.client_secret
    secure = call(
        "grant_type=client_credentials",
        app=wsgi_app,
        HTTP_AUTHORIZATION=basic(cc_app.app.client_id, secret),
        **{"wsgi.url_scheme": "https"},
    )
    slow = post_form(client_credentials(cc_app), secure=True)
    assert django_path == [TOKEN_URL]
    assert plain.status_code == secure.status_code == slow.status_code == 200
    assert "Strict-Transport-Security" not in plain.headers
    for name in (*COMPARED_HEADERS, "Strict-Transport-Security"):
        assert secure.headers[name] == slow[name], name


@pytest.mark.parametrize(
    ("body", "extra", "status", "error"),
    [
        ("grant_type=client_credentials&grant_type=client_credentials", {}, 400, "invalid_request"),
        ("grant_type=client_credentials&scope=manage%3Ausers", {}, 400, "invalid_scope"),
        ("grant_type=client_credentials&scope=%00", {}, 400, "invalid_request"),
        ("grant_type=password&username=a&password=b", {}, 400, "unauthorized_client"),
        (
            "grant_type=client_credentials",
            {"HTTP_AUTHORIZATION": basic("0" * 32, "wrong")},
            401,
            "invalid_client",
        ),
        # Unknown parameters are ignored (RFC 6749 §3.2), by Django's path.
        ("grant_type=client_credentials&audience=https%3A%2F%2Fapi.example", {}, 200, None),
    ],
    ids=["repeated", "scope not held", "nul", "other grant", "wrong client", "unknown parameter"],
)
def test_anything_else_reaches_django_with_its_body(
    cc_app, django_path, body, extra, status, error
):
    app = cc_app.app
    meta = {"HTTP_AUTHORIZATION": basic(app.client_id, cc_app.client_secret), **extra}
    answer = call(body, **meta)
    assert django_path == [TOKEN_URL]
    # The body arrived whole: Django's answer names the real problem.
    assert (answer.status_code, answer.json().get("error")) == (status, error)
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.headers["Cache-Control"] == "no-store"
    assert AccessToken.objects.count() == (1 if status == 200 else 0)


def test_json_bodies_query_strings_and_other_methods_reach_django(cc_app, django_path):
    app = cc_app.app
    auth = {"HTTP_AUTHORIZATION": basic(app.client_id, cc_app.client_secret)}
    as_json = call(
        json.dumps({"grant_type": "client_credentials"}), content_type="application/json", **auth
    )
    assert as_json.status_code == 200
    assert django_path == [TOKEN_URL]
    with_query = call("grant_type=client_credentials", query="scope=profile", **auth)
    assert with_query.status_code == 400 and with_query.json()["error"] == "invalid_request"
    assert call("", method="GET", **auth).status_code == 405


@override_settings(
    DOORMAN_RATELIMIT_TOKEN_PER_CLIENT="2/m", DOORMAN_RATELIMIT_TOKEN_PER_IP="1000/m"
)
def test_rate_limits_count_each_request_once_whichever_path_answers(cc_app, django_path):
    """A wrong secret never spends the client's budget (SPEC §10); every token issued
    spends one, on the fast path as on Django's."""
    app = cc_app.app
    for _ in range(3):
        refused = call(
            "grant_type=client_credentials", HTTP_AUTHORIZATION=basic(app.client_id, "wrong")
        )
        assert refused.status_code == 401  # checked on the fast path, answered by Django
    assert django_path == [TOKEN_URL] * 3
    as_json = call(
        json.dumps({"grant_type": "client_credentials"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic(app.client_id, cc_app.client_secret),
    )
    assert as_json.status_code == 200  # issued by Django's path
    assert cc_call(cc_app).status_code == 200  # by the fast path
    limited = cc_call(cc_app)
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.headers["Cache-Control"] == "no-store"
    assert limited.json()["error"] == "temporarily_unavailable"
    assert django_path == [TOKEN_URL] * 4


@override_settings(SECURE_SSL_REDIRECT=True)
def test_the_https_redirect_still_applies(cc_app, django_path):
    from django.core.wsgi import get_wsgi_application

    # Middleware reads its settings when built, as at a server's start.
    answer = cc_call(cc_app, wsgi_app=TokenFastPath(get_wsgi_application()))
    assert answer.status_code == 301
    assert answer.headers["Location"].startswith("https://")
    assert AccessToken.objects.count() == 0


def test_a_database_outage_is_a_json_503(cc_app, monkeypatch):
    def down(*rows, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr("oauth.engine.issue._write", down)
    answer = cc_call(cc_app)
    assert answer.status_code == 503
    assert answer.json()["error"] == "temporarily_unavailable"
    assert answer.headers["Retry-After"] == "1"
    assert answer.headers["Cache-Control"] == "no-store"


def test_request_signals_are_sent_once_each(cc_app, django_path):
    sent = []

    def started(**kwargs):
        sent.append("started")

    def finished(**kwargs):
        sent.append("finished")

    signals.request_started.connect(started)
    signals.request_finished.connect(finished)
    try:
        assert cc_call(cc_app).status_code == 200
    finally:
        signals.request_started.disconnect(started)
        signals.request_finished.disconnect(finished)
    assert sent == ["started", "finished"]
    assert django_path == []


def test_the_switch_turns_the_fast_path_off(cc_app, django_path, settings):
    from oauth.wsgi import token_fast_path

    settings.DOORMAN_TOKEN_FAST_PATH = False
    inner = object()
    assert token_fast_path(inner) is inner


def test_a_failing_rate_limiter_is_a_json_error_not_a_traceback(cc_app, monkeypatch):
    def broken(request, params):
        raise RuntimeError("cache away")

    monkeypatch.setattr("oauth.wsgi.token_request_rate_limited", broken)
    answer = cc_call(cc_app)
    assert answer.status_code == 500
    assert answer.json()["error"] == "server_error"
    assert answer.headers["Cache-Control"] == "no-store"
    assert b"cache away" not in answer.body
    assert AccessToken.objects.count() == 0


# -- refresh and code exchanges: the engine's answer ahead of Django, refusals included ------
def _password_tokens(make_app, member) -> tuple:
    from tests.factories import DEFAULT_PASSWORD

    app = make_app(grant_types=["password", "refresh_token"], redirect_uris=[], scopes=["profile"])
    auth = basic(app.app.client_id, app.client_secret)
    password = {"grant_type": "password", "username": member.username, "password": DEFAULT_PASSWORD}
    tokens = call(urlencode(password), HTTP_AUTHORIZATION=auth).json()
    return auth, tokens


def test_a_refresh_is_answered_without_django_as_django_answers_it(make_app, member, django_path):
    auth, tokens = _password_tokens(make_app, member)
    django_path.clear()  # the password grant went through Django
    refreshed = call(
        urlencode({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}),
        HTTP_AUTHORIZATION=auth,
    )
    assert refreshed.status == "200 OK", refreshed.body
    assert set(refreshed.json()) == {
        "access_token",
        "expires_in",
        "token_type",
        "scope",
        "refresh_token",
    }
    for name in COMPARED_HEADERS:
        assert name in refreshed.headers, name
    assert refreshed.headers["Cache-Control"] == "no-store"
    # The old token again: a reuse, refused here (once), its family revoked.
    reused = call(
        urlencode({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}),
        HTTP_AUTHORIZATION=auth,
    )
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    assert reused.headers["Cache-Control"] == "no-store"
    fresh = refreshed.json()["refresh_token"]
    again = call(
        urlencode({"grant_type": "refresh_token", "refresh_token": fresh}),
        HTTP_AUTHORIZATION=auth,
    )
    assert again.status_code == 400  # the family went with the reuse
    revoked = AuditEvent.objects.filter(action=AuditAction.TOKEN_REVOKED)
    assert revoked.count() == 1
    refused = AuditEvent.objects.filter(action=AuditAction.TOKEN_REFUSED)
    assert refused.count() == 2
    assert django_path == []


def test_a_refresh_with_a_wrong_secret_is_a_401_with_the_basic_challenge(make_app, member):
    _auth, tokens = _password_tokens(make_app, member)
    answer = call(
        urlencode({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}),
        HTTP_AUTHORIZATION=basic("0" * 32, "wrong"),
    )
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Basic")
    assert answer.json()["error"] == "invalid_client"


def test_a_password_request_still_goes_to_django(make_app, member, django_path):
    from tests.factories import DEFAULT_PASSWORD

    app = make_app(grant_types=["password"], redirect_uris=[], scopes=["profile"])
    answer = call(
        urlencode(
            {"grant_type": "password", "username": member.username, "password": DEFAULT_PASSWORD}
        ),
        HTTP_AUTHORIZATION=basic(app.app.client_id, app.client_secret),
    )
    assert answer.status_code == 200
    assert django_path == [TOKEN_URL]


def test_introspection_is_answered_without_django_as_its_view_answers(cc_app, monkeypatch):
    from oauth.views.token import DoormanIntrospectView
    from tests.oauth.tokenkit import INTROSPECT_URL

    reached = []
    original = DoormanIntrospectView.dispatch

    def dispatch(self, request, *args, **kwargs):
        reached.append(request.path)
        return original(self, request, *args, **kwargs)

    monkeypatch.setattr(DoormanIntrospectView, "dispatch", dispatch)
    token = cc_call(cc_app, scope="read:organization").json()["access_token"]
    auth = basic(cc_app.app.client_id, cc_app.client_secret)
    answer = call(urlencode({"token": token}), PATH_INFO=INTROSPECT_URL, HTTP_AUTHORIZATION=auth)
    assert answer.status == "200 OK"
    assert answer.json()["active"] is True and answer.json()["scope"] == "read:organization"
    for name in COMPARED_HEADERS:
        assert name in answer.headers, name
    refused = call(
        urlencode({"token": token}),
        PATH_INFO=INTROSPECT_URL,
        HTTP_AUTHORIZATION=basic(cc_app.app.client_id, "wrong"),
    )
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    assert refused.headers["WWW-Authenticate"].startswith("Basic")
    event = AuditEvent.objects.get(action=AuditAction.TOKEN_REFUSED)
    assert event.details == {"endpoint": "introspection", "error": "invalid_client"}
    assert reached == []
    # The same request as JSON goes to Django's view, which answers it the same way.
    as_json = call(
        json.dumps({"token": token}),
        content_type="application/json",
        PATH_INFO=INTROSPECT_URL,
        HTTP_AUTHORIZATION=auth,
    )
    assert as_json.json() == answer.json()
    assert reached == [INTROSPECT_URL]
