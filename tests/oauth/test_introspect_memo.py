"""Introspection by a worker that remembers both the client and the token (one statement
checks both: oauth.principal_cache.GenerationRead): a revoked token, a disabled client or a
rotated secret is refused on the very next request, through the WSGI front (a plain form
request, answered ahead of Django) and Django's view alike."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from django.test import Client

from accounts.access import Access
from audit.models import AuditAction, AuditEvent
from connected_apps.models import ConnectedApp
from connected_apps.services import connected_app_rotate_secret
from oauth import principal_cache
from oauth.errors import InvalidClient
from oauth.models import AccessToken
from tests.factories import DEFAULT_PASSWORD
from tests.oauth.tokenkit import (
    INTROSPECT_URL,
    REVOKE_URL,
    basic,
    isolated_throttle,  # noqa: F401 (autouse fixture)
    post_form,
    sha256,
)
from tests.wsgi_kit import call

# Committed as in production: each request sees what the last one committed.
pytestmark = pytest.mark.django_db(transaction=True)

FRONTS = ["wsgi", "view"]


@pytest.fixture
def password_app(make_app):
    return make_app(
        client_name="Password App",
        grant_types=["password", "refresh_token"],
        redirect_uris=[],
        scopes=["profile", "email"],
    )


@pytest.fixture
def access_token(password_app, member) -> str:
    return post_form(
        {
            "grant_type": "password",
            "username": member.username,
            "password": DEFAULT_PASSWORD,
            "scope": "profile",
        },
        HTTP_AUTHORIZATION=basic(password_app.app.client_id, password_app.client_secret),
    ).json()["access_token"]


def introspect(front: str, client_id: str, secret: str, token: str):
    """An introspection authenticated with HTTP Basic: through the production WSGI
    application (config.wsgi), or Django's view (the test client)."""
    auth = basic(client_id, secret)
    if front == "wsgi":
        return call(urlencode({"token": token}), PATH_INFO=INTROSPECT_URL, HTTP_AUTHORIZATION=auth)
    return post_form({"token": token}, url=INTROSPECT_URL, HTTP_AUTHORIZATION=auth)


def warm(front: str, app_with_secret, token: str) -> None:
    """Introspect until this worker remembers both the client and the token."""
    client_id, secret = app_with_secret.app.client_id, app_with_secret.client_secret
    for _ in range(2):
        response = introspect(front, client_id, secret, token)
        assert response.status_code == 200
        assert response.json()["active"] is True
    assert principal_cache.app_facts.recent(client_id) is not None
    assert principal_cache.principals.recent(sha256(token)) is not None


def assert_refused_client(response, *, audited: bool) -> None:
    """invalid_client, exactly as a client never remembered is refused; audited when the
    app is one the request could name (a disabled app is nobody's: oauth.engine.endpoint)."""
    expected = InvalidClient().response()
    assert response.status_code == expected.status_code == 401
    assert response.json() == json.loads(expected.content)
    assert response.headers["WWW-Authenticate"] == expected["WWW-Authenticate"]
    refused = AuditEvent.objects.filter(action=AuditAction.TOKEN_REFUSED)
    expected_details = [{"endpoint": "introspection", "error": "invalid_client"}] * audited
    assert [event.details for event in refused] == expected_details


@pytest.mark.parametrize("front", FRONTS)
@pytest.mark.parametrize("revocation", ["endpoint", "queryset"])
def test_a_revoked_token_is_inactive_at_once(front, revocation, password_app, access_token):
    """A revocation deletes the row and advances no generation: the client's memo still
    holds, the token's must not."""
    warm(front, password_app, access_token)
    generation = principal_cache.generation_current()
    if revocation == "endpoint":  # RFC 7009
        revoked = Client().post(
            REVOKE_URL,
            {"token": access_token},
            HTTP_AUTHORIZATION=basic(password_app.app.client_id, password_app.client_secret),
        )
        assert revoked.status_code == 200
    else:
        AccessToken.objects.filter(token_checksum=sha256(access_token)).revoke()
    assert not AccessToken.objects.filter(token_checksum=sha256(access_token)).exists()
    assert principal_cache.generation_current() == generation
    client_id, secret = password_app.app.client_id, password_app.client_secret
    response = introspect(front, client_id, secret, access_token)
    assert response.status_code == 200
    assert response.json() == {"active": False}
    assert principal_cache.principals.recent(sha256(access_token)) is None


@pytest.mark.parametrize("front", FRONTS)
def test_a_client_disabled_by_a_queryset_update_is_refused_at_once(
    front, password_app, access_token
):
    warm(front, password_app, access_token)
    ConnectedApp.objects.filter(pk=password_app.app.pk).update(enabled=False)
    client_id, secret = password_app.app.client_id, password_app.client_secret
    assert_refused_client(introspect(front, client_id, secret, access_token), audited=False)


@pytest.mark.parametrize("front", FRONTS)
def test_a_rotated_secret_is_refused_at_once(front, password_app, access_token, admin):
    warm(front, password_app, access_token)
    rotated = connected_app_rotate_secret(access=Access(user=admin), app=password_app.app)
    client_id = password_app.app.client_id
    refused = introspect(front, client_id, password_app.client_secret, access_token)
    assert_refused_client(refused, audited=True)
    response = introspect(front, client_id, rotated.client_secret, access_token)
    assert response.status_code == 200
    assert response.json()["active"] is True


@pytest.mark.parametrize("front", FRONTS)
def test_an_expired_token_is_inactive_at_once(front, password_app, access_token):
    warm(front, password_app, access_token)
    AccessToken.objects.filter(token_checksum=sha256(access_token)).update(
        expires=AccessToken.objects.get(token_checksum=sha256(access_token)).created
    )
    client_id, secret = password_app.app.client_id, password_app.client_secret
    response = introspect(front, client_id, secret, access_token)
    assert response.json() == {"active": False}
