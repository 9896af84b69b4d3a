"""The per-worker memory of bearer-token resolutions (oauth.principal_cache).

A remembered resolution saves the database all but one statement on every API call, so each
test here warms it first (and proves the second call asks the database that one statement
only), then makes one change a resolution depends on and checks that the very next call sees
it. tests/oauth/test_generation.py makes the same changes behind the services' backs.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from accounts.access import Access
from connected_apps.controls import allowlist_approve, org_settings_update
from connected_apps.models import Authorization
from connected_apps.services import (
    connected_app_delete,
    connected_app_set_scopes,
    connected_app_update,
)
from oauth import principal_cache
from oauth.models import AccessToken
from oauth.principals import access_token_resolve
from oauth.services import authorization_revoke, authorizations_revoke_for_org
from tests.oauth.helpers import bearer, mint_access_token

pytestmark = pytest.mark.django_db

PROFILE = "/accounts/api/profile"


def warm(raw: str) -> None:
    """Resolve twice; the second resolution must come from memory (one statement: the
    generation, and whether the token's row is there)."""
    assert access_token_resolve(raw) is not None
    with CaptureQueriesContext(connection) as queries:
        assert access_token_resolve(raw) is not None
    assert len(queries) == 1
    assert "doorman_generation" in queries[0]["sql"]


@pytest.fixture
def user_token(admin, code_app):
    return mint_access_token(user=admin, app=code_app.app, scope="openid profile")


def test_a_remembered_token_serves_the_api_with_one_statement_and_no_cache(
    user_token, admin, monkeypatch
):
    client = Client()
    assert client.get(PROFILE, **bearer(user_token)).status_code == 200
    cache_used = no_cache_at_all(monkeypatch)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(PROFILE, **bearer(user_token))
    assert response.status_code == 200
    assert response.json()["username"] == admin.username
    assert len(queries) == 1
    assert "doorman_generation" in queries[0]["sql"]
    assert cache_used == []


def test_a_remembered_app_token_serves_the_api_with_one_statement(cc_app, admin):
    """An own-behalf token reads its creator's profile (SPEC §3): the creator is remembered
    with the token, not read again on every call."""
    token = mint_access_token(app=cc_app.app, scope="profile")
    client = Client()
    assert client.get(PROFILE, **bearer(token)).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        response = client.get(PROFILE, **bearer(token))
    assert response.status_code == 200
    assert response.json()["username"] == cc_app.app.user.username
    assert len(queries) == 1, [q["sql"] for q in queries]


def no_cache_at_all(monkeypatch) -> list:
    """Record, and refuse, every use of the cache from here on: Django's cache API, the hot
    path's raw Redis commands, and redis-py itself. Returns the list of uses."""
    from django.core.cache import caches
    from redis import Redis

    from core.cache import HotPathRedis

    used = []

    def refused(name):
        def use(*args, **kwargs):
            used.append(name)
            raise AssertionError(f"the cache was used: {name}")

        return use

    backend = type(caches["default"])
    for name in ("get", "get_many", "set", "set_many", "add", "incr", "decr", "delete"):
        monkeypatch.setattr(backend, name, refused(f"cache.{name}"))
    monkeypatch.setattr(HotPathRedis, "execute", refused("hot path execute"))
    monkeypatch.setattr(HotPathRedis, "send", refused("hot path send"))
    monkeypatch.setattr(Redis, "execute_command", refused("redis-py"))
    return used


def test_each_request_gets_its_own_objects(user_token):
    first, second = access_token_resolve(user_token), access_token_resolve(user_token)
    assert first is not second
    assert first.user is not second.user and first.app is not second.app
    first.user.first_name = "Changed in one request"
    assert second.user.first_name != "Changed in one request"


def test_revoking_the_token_is_seen_on_the_next_call(user_token, code_app):
    warm(user_token)
    response = Client().post(
        "/accounts/api/v2/oauth2/revoke",
        {"token": user_token},
        HTTP_AUTHORIZATION=_basic(code_app),
    )
    assert response.status_code == 200
    assert access_token_resolve(user_token) is None


def test_deleting_the_token_row_through_revoke_is_seen(user_token):
    warm(user_token)
    AccessToken.objects.get().revoke()
    assert access_token_resolve(user_token) is None


def _basic(app_with_secret) -> str:
    import base64

    pair = f"{app_with_secret.app.client_id}:{app_with_secret.client_secret}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


CHANGES = {
    "app disabled": lambda admin, app, org: connected_app_update(
        access=Access(user=admin), app=app, changes={"enabled": False}
    ),
    "app deleted": lambda admin, app, org: connected_app_delete(access=Access(user=admin), app=app),
    "app scopes removed": lambda admin, app, org: connected_app_set_scopes(
        access=Access(user=admin), app=app, scopes=["email"]
    ),
    "user deactivated": lambda admin, app, org: _deactivate(admin),
    "org switched apps off": lambda admin, app, org: org_settings_update(
        access=Access(user=admin), org=org, enabled=False
    ),
    "user revoked the app": lambda admin, app, org: authorization_revoke(
        actor=admin,
        authorization=Authorization.objects.create(user=admin, app=app, scopes=["profile"]),
    ),
    "org revoked the app": lambda admin, app, org: (
        Authorization.objects.create(user=admin, app=app, scopes=["profile"]),
        authorizations_revoke_for_org(access=Access(user=admin), org=org, app=app),
    ),
}


def _deactivate(user) -> None:
    user.is_active = False
    user.save(update_fields=["is_active"])


@pytest.mark.parametrize("change", CHANGES)
def test_a_change_is_seen_on_the_next_call(change, user_token, admin, code_app, org):
    warm(user_token)
    CHANGES[change](admin, code_app.app, org)
    assert access_token_resolve(user_token) is None
    assert Client().get(PROFILE, **bearer(user_token)).status_code == 401


def test_an_allowlist_turned_on_is_seen_by_a_foreign_apps_token(
    other_admin, other_org, member, make_app, org, admin
):
    foreign = make_app(actor=other_admin, owner=other_org, audience="everyone")
    raw = mint_access_token(user=member, app=foreign.app, scope="profile")
    warm(raw)
    org_settings_update(access=Access(user=admin), org=org, allowlist_enabled=True)
    assert access_token_resolve(raw) is None
    allowlist_approve(access=Access(user=admin), org=org, client_id=foreign.app.client_id)
    assert access_token_resolve(raw) is not None


def test_a_scope_given_back_is_seen_on_the_next_call(user_token, admin, code_app):
    warm(user_token)
    connected_app_set_scopes(access=Access(user=admin), app=code_app.app, scopes=["openid"])
    assert access_token_resolve(user_token).effective_scopes == {"openid"}
    connected_app_set_scopes(
        access=Access(user=admin), app=code_app.app, scopes=["openid", "profile"]
    )
    assert access_token_resolve(user_token).effective_scopes == {"openid", "profile"}


def test_a_profile_change_is_seen_on_the_next_call(user_token, admin):
    warm(user_token)
    admin.first_name = "Ada"
    admin.save()
    assert Client().get(PROFILE, **bearer(user_token)).json()["firstName"] == "Ada"


def test_nothing_is_trusted_under_another_generation(user_token):
    warm(user_token)
    generation = principal_cache.generation_current()
    with connection.cursor() as cursor:  # what any watched change does (test_generation.py)
        cursor.execute("UPDATE doorman_generation SET value = value + 1")
    assert principal_cache.generation_current() != generation
    with CaptureQueriesContext(connection) as queries:
        assert access_token_resolve(user_token) is not None
    assert len(queries) > 1


@override_settings(DOORMAN_TOKEN_CACHE_SECONDS=0)
def test_an_entry_is_never_trusted_past_its_age(user_token):
    assert access_token_resolve(user_token) is not None
    with CaptureQueriesContext(connection) as queries:
        assert access_token_resolve(user_token) is not None
    assert len(queries) > 0


@override_settings(DOORMAN_TOKEN_CACHE=False)
def test_switched_off_every_call_asks_the_database(user_token):
    assert access_token_resolve(user_token) is not None
    with CaptureQueriesContext(connection) as queries:
        assert access_token_resolve(user_token) is not None
    assert len(queries) > 0


@pytest.mark.django_db(transaction=True)
def test_a_token_remembered_while_its_revocation_commits_is_refused(admin, code_app):
    from django.db import transaction

    raw = mint_access_token(user=admin, app=code_app.app, scope="profile")
    warm(raw)
    token = AccessToken.objects.get()
    remembered = dict(principal_cache.principals._entries)
    with transaction.atomic():
        token.revoke()
        # A concurrent request could have stored the token again before the commit...
        principal_cache.principals._entries.update(remembered)
    # ...the row is gone once the revocation commits: nothing remembered can bring it back.
    assert principal_cache.principals._entries
    assert access_token_resolve(raw) is None
