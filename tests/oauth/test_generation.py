# ruff: noqa: S608 (raw SQL is what these tests are about; table names come from the models)
"""Invalidation the database guarantees (oauth migration 0004, oauth.principal_cache).

What a worker remembers of a token is trusted only while the `doorman_generation` row, which
triggers advance in the writing transaction, holds the value it was computed under, and while
the token's row exists. So a change made behind every service's back (a queryset `.update()`,
raw SQL as an administrator would type it in psql) is seen by the very next request, on every
backend the suite runs on, and bookkeeping the hot paths write advances nothing.
"""

from __future__ import annotations

import base64
import uuid
from datetime import datetime, timedelta

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.access import Access
from accounts.models import User
from connected_apps.controls import allowlist_approve, org_settings_update
from connected_apps.models import AllowlistEntry, AppScope, ConnectedApp, OrgAppSettings
from oauth import principal_cache
from oauth.models import AccessToken
from oauth.principal_cache import generation_current
from oauth.principals import access_token_resolve
from tests.factories import DEFAULT_PASSWORD
from tests.oauth.code_flow import tokens_for
from tests.oauth.helpers import bearer, mint_access_token
from tests.oauth.tokenkit import LOGIN_URL, client_credentials, post_form, post_json, sha256

pytestmark = pytest.mark.django_db

PROFILE = "/accounts/api/profile"


def sql(statement: str, *params) -> None:
    """Raw SQL on Django's connection, as psql would run it: no model, no signal."""
    with connection.cursor() as cursor:
        cursor.execute(statement, [_as_stored(value) for value in params])


def _as_stored(value):
    """A UUID or a datetime as the backend's columns hold it (SQLite: hex, naive UTC text)."""
    if isinstance(value, uuid.UUID):
        return value if connection.vendor == "postgresql" else value.hex
    if isinstance(value, datetime):
        return connection.ops.adapt_datetimefield_value(value)
    return value


def table(model) -> str:
    return model._meta.db_table


def warm(raw: str) -> None:
    """Resolve twice; the second must be a hit (the one statement)."""
    assert access_token_resolve(raw) is not None
    with CaptureQueriesContext(connection) as queries:
        assert access_token_resolve(raw) is not None
    assert len(queries) == 1


def refused(raw: str) -> None:
    assert Client().get(PROFILE, **bearer(raw)).status_code == 401
    assert access_token_resolve(raw) is None


# -- every table a remembered principal is computed from ----------------------------------------
# Each case: a token made under `setup`, and a change to one table, made with a queryset
# `.update()` (or `bulk_create`, or `QuerySet.delete`: no model signal) and with raw SQL; the
# next request must see it exactly as it sees the same change made by a service.
class Case:
    def __init__(self, request) -> None:
        self.org = request.getfixturevalue("org")
        self.admin = request.getfixturevalue("admin")
        self.app = request.getfixturevalue("code_app").app
        self.user = self.admin
        self.raw = None

    def token(self, scope: str = "profile") -> str:
        self.raw = mint_access_token(user=self.user, app=self.app, scope=scope)
        return self.raw


def _foreign_app_allowlisted(request) -> Case:
    """A member's token of another tenant's app that the member's org allowlisted."""
    case = Case(request)
    other_admin = request.getfixturevalue("other_admin")
    other_org = request.getfixturevalue("other_org")
    make_app = request.getfixturevalue("make_app")
    case.user = request.getfixturevalue("member")
    case.app = make_app(actor=other_admin, owner=other_org, audience="everyone").app
    org_settings_update(access=Access(user=case.admin), org=case.org, allowlist_enabled=True)
    allowlist_approve(access=Access(user=case.admin), org=case.org, client_id=case.app.client_id)
    case.token()
    return case


def _with_settings_row(request) -> Case:
    case = Case(request)
    OrgAppSettings.objects.create(organization=case.org, enabled=True)
    case.token()
    return case


def _plain(request) -> Case:
    case = Case(request)
    case.token()
    return case


CASES = {
    "user deactivated": (
        _plain,
        lambda c: User.objects.filter(pk=c.user.pk).update(is_active=False),
        lambda c: sql(f"UPDATE {table(User)} SET is_active = %s WHERE id = %s", False, c.user.pk),
    ),
    "app disabled": (
        _plain,
        lambda c: ConnectedApp.objects.filter(pk=c.app.pk).update(enabled=False),
        lambda c: sql(
            f"UPDATE {table(ConnectedApp)} SET enabled = %s WHERE id = %s", False, c.app.pk
        ),
    ),
    "app scope renamed away": (
        _plain,
        lambda c: AppScope.objects.filter(app=c.app, scope="profile").update(scope="phone"),
        lambda c: sql(
            f"UPDATE {table(AppScope)} SET scope = 'phone' WHERE app_id = %s AND scope = 'profile'",
            c.app.pk,
        ),
    ),
    "app scope deleted": (
        _plain,
        lambda c: AppScope.objects.filter(app=c.app, scope="profile")._raw_delete("default"),
        lambda c: sql(
            f"DELETE FROM {table(AppScope)} WHERE app_id = %s AND scope = 'profile'", c.app.pk
        ),
    ),
    "org switched apps off": (
        _with_settings_row,
        lambda c: OrgAppSettings.objects.filter(organization=c.org).update(enabled=False),
        lambda c: sql(
            f"UPDATE {table(OrgAppSettings)} SET enabled = %s WHERE organization_id = %s",
            False,
            c.org.pk,
        ),
    ),
    "org settings row added, switched off": (
        _plain,
        lambda c: OrgAppSettings.objects.bulk_create(
            [OrgAppSettings(organization=c.org, enabled=False, updated_at=timezone.now())]
        ),
        lambda c: sql(
            f"INSERT INTO {table(OrgAppSettings)} "
            "(organization_id, enabled, allowlist_enabled, updated_at) VALUES (%s, %s, %s, %s)",
            c.org.pk,
            False,
            False,
            timezone.now(),
        ),
    ),
    "allowlist approves no scope": (
        _foreign_app_allowlisted,
        lambda c: AllowlistEntry.objects.filter(organization=c.org).update(approved_scopes=[]),
        lambda c: sql(
            f"UPDATE {table(AllowlistEntry)} SET approved_scopes = '[]' WHERE organization_id = %s",
            c.org.pk,
        ),
    ),
    "allowlist entry removed": (
        _foreign_app_allowlisted,
        lambda c: AllowlistEntry.objects.filter(organization=c.org)._raw_delete("default"),
        lambda c: sql(f"DELETE FROM {table(AllowlistEntry)} WHERE organization_id = %s", c.org.pk),
    ),
    "token's scope narrowed in place": (
        _plain,
        lambda c: AccessToken.objects.filter(token_checksum=sha256(c.raw)).update(scope="email"),
        lambda c: sql(
            f"UPDATE {table(AccessToken)} SET scope = 'email' WHERE token_checksum = %s",
            sha256(c.raw),
        ),
    ),
}


@pytest.mark.parametrize("way", ["queryset", "sql"])
@pytest.mark.parametrize("case", CASES)
def test_a_change_behind_the_services_backs_is_seen_on_the_next_request(case, way, request):
    setup, by_queryset, by_sql = CASES[case]
    made = setup(request)
    warm(made.raw)
    generation = generation_current()
    (by_queryset if way == "queryset" else by_sql)(made)
    assert generation_current() != generation
    if case == "token's scope narrowed in place":  # still a token, for `email` only
        assert Client().get(PROFILE, **bearer(made.raw)).status_code == 403
        assert access_token_resolve(made.raw).effective_scopes == {"email"}
    else:
        refused(made.raw)


def test_a_change_that_gives_back_is_seen_too(admin, code_app):
    """Not only refusals: a scope restored by raw SQL is in effect on the next request."""
    raw = mint_access_token(user=admin, app=code_app.app, scope="openid profile")
    sql(f"DELETE FROM {table(AppScope)} WHERE app_id = %s AND scope = 'profile'", code_app.app.pk)
    assert access_token_resolve(raw).effective_scopes == {"openid"}
    assert access_token_resolve(raw).effective_scopes == {"openid"}  # remembered
    sql(f"INSERT INTO {table(AppScope)} (app_id, scope) VALUES (%s, 'profile')", code_app.app.pk)
    assert access_token_resolve(raw).effective_scopes == {"openid", "profile"}


def test_a_truncated_table_is_seen(request):
    if connection.vendor != "postgresql":
        pytest.skip(
            "TRUNCATE is PostgreSQL's (SQLite's DELETE without WHERE fires the row triggers)"
        )
    made = _foreign_app_allowlisted(request)
    warm(made.raw)
    sql("SET CONSTRAINTS ALL IMMEDIATE")  # the test's pending foreign-key checks, done now
    sql(f"TRUNCATE {table(AllowlistEntry)}")
    refused(made.raw)


# -- revocation: a deleted row ------------------------------------------------------------------
def test_a_token_deleted_by_raw_sql_is_refused_though_this_worker_remembers_it(admin, code_app):
    raw = mint_access_token(user=admin, app=code_app.app, scope="profile")
    other = mint_access_token(user=admin, app=code_app.app, scope="profile")
    warm(raw)
    warm(other)
    generation = generation_current()
    sql(f"DELETE FROM {table(AccessToken)} WHERE token_checksum = %s", sha256(raw))
    assert principal_cache.principals.recent(sha256(raw)) is not None  # still remembered...
    refused(raw)  # ...and refused
    assert generation_current() == generation  # no generation: every other entry holds
    warm(other)


def test_a_token_expired_by_raw_sql_is_refused(admin, code_app):
    raw = mint_access_token(user=admin, app=code_app.app, scope="profile")
    warm(raw)
    past = timezone.now() - timedelta(seconds=1)
    sql(
        f"UPDATE {table(AccessToken)} SET expires = %s WHERE token_checksum = %s", past, sha256(raw)
    )
    refused(raw)


def test_an_unknown_token_costs_one_statement(admin):
    with CaptureQueriesContext(connection) as queries:
        assert access_token_resolve("never-issued") is None
    assert len(queries) == 1


# -- what does not advance it ---------------------------------------------------------------------
def test_bookkeeping_columns_advance_nothing(admin, code_app):
    raw = mint_access_token(user=admin, app=code_app.app, scope="profile")
    warm(raw)
    generation = generation_current()
    now = timezone.now()
    User.objects.filter(pk=admin.pk).update(last_login=now)
    ConnectedApp.objects.filter(pk=code_app.app.pk).update(last_used_at=now)
    stamp = now + timedelta(seconds=1)
    sql(f"UPDATE {table(User)} SET last_login = %s WHERE id = %s", stamp, admin.pk)
    sql(f"UPDATE {table(ConnectedApp)} SET last_used_at = %s WHERE id = %s", stamp, code_app.app.pk)
    User.objects.get(pk=admin.pk).save()  # a save that changes nothing
    sql(f"UPDATE {table(User)} SET first_name = first_name")  # nor does this
    assert generation_current() == generation
    warm(raw)


def _basic(app_with_secret) -> str:
    pair = f"{app_with_secret.app.client_id}:{app_with_secret.client_secret}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def test_the_hot_paths_advance_nothing(make_app, cc_app, code_app, member, admin):
    """Every grant and sign-in writes its bookkeeping (last_login, last_used_at, the
    authorization's last use): no remembered entry is lost to it."""
    remembered = mint_access_token(user=admin, app=code_app.app, scope="profile")
    warm(remembered)
    password_app = make_app(
        grant_types=["password", "refresh_token"], redirect_uris=[], scopes=["profile"]
    )
    generation = generation_current()

    assert post_form(client_credentials(cc_app)).status_code == 200
    assert post_form(client_credentials(cc_app)).status_code == 200
    credentials = {"username": member.username, "password": DEFAULT_PASSWORD}
    data = {"grant_type": "password", **credentials}
    data.update(client_id=password_app.app.client_id, client_secret=password_app.client_secret)
    tokens = post_form(data).json()
    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    refreshed = post_form(refresh, HTTP_AUTHORIZATION=_basic(password_app))
    assert refreshed.status_code == 200, refreshed.content
    assert post_json(credentials, url=LOGIN_URL).status_code == 200
    browser = Client()
    browser.force_login(member)
    code_tokens = tokens_for(browser, code_app, scope="openid profile")
    for raw in (refreshed.json()["access_token"], code_tokens["access_token"]):
        assert Client().get(PROFILE, **bearer(raw)).status_code == 200

    assert generation_current() == generation
    warm(remembered)


# -- readers ------------------------------------------------------------------------------------
def test_the_generation_is_read_before_the_data(admin, code_app, monkeypatch):
    """The generation comes with the token's row, before the rest of a resolution is read: a
    change landing in between (here, after the user was read) leaves what was stored stale
    at once, so the next request reads afresh instead of trusting the old name."""
    from oauth import principals

    raw = mint_access_token(user=admin, app=code_app.app, scope="profile")
    scopes = principals.app_current_scopes

    def scopes_after_a_change(app):
        User.objects.filter(pk=admin.pk).update(first_name="Meanwhile")
        return scopes(app)

    monkeypatch.setattr(principals, "app_current_scopes", scopes_after_a_change)
    assert access_token_resolve(raw).user.first_name != "Meanwhile"  # read before it
    monkeypatch.setattr(principals, "app_current_scopes", scopes)
    with CaptureQueriesContext(connection) as queries:
        assert access_token_resolve(raw).user.first_name == "Meanwhile"
    assert len(queries) > 1


def test_a_value_from_a_rolled_back_change_never_comes_back(admin, code_app):
    """A transaction that advanced the generation, resolved a token under the new value and
    rolled back must leave a value no later change reaches again (PostgreSQL: a sequence;
    SQLite: a random one), else what it read would pass for current."""
    raw = mint_access_token(user=admin, app=code_app.app, scope="profile")
    warm(raw)
    with pytest.raises(RuntimeError), transaction.atomic():
        User.objects.filter(pk=admin.pk).update(first_name="Rolled back")
        assert access_token_resolve(raw).user.first_name == "Rolled back"
        raise RuntimeError
    User.objects.filter(pk=admin.pk).update(last_name="Committed")  # the next change
    principal = access_token_resolve(raw)
    assert (principal.user.first_name, principal.user.last_name) != ("Rolled back", "Committed")
    assert principal.user.last_name == "Committed"


# -- the triggers themselves -----------------------------------------------------------------------
WATCHED = {
    table(User): {"last_login"},
    table(ConnectedApp): {"last_used_at"},
    table(AppScope): set(),
    table(OrgAppSettings): set(),
    table(AllowlistEntry): set(),
}


def test_every_watched_table_has_its_triggers():
    """On SQLite a migration that rebuilds a table drops its triggers, and an UPDATE trigger
    names the columns it compares: a new column must be compared too (install them again,
    oauth/migrations/0004_generation_triggers.py `install`)."""
    tokens = table(AccessToken)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgrelid::regclass::text, tgname FROM pg_trigger "
                "WHERE tgname LIKE 'doorman_generation%%'"
            )
            found = set(cursor.fetchall())
            expected = {
                (name, f"doorman_generation_{kind}")
                for name in WATCHED
                for kind in ("rows", "update", "truncate")
            } | {(tokens, "doorman_generation_update")}
            assert found == expected
            return
        cursor.execute(
            "SELECT tbl_name, name, sql FROM sqlite_master "
            "WHERE type = 'trigger' AND name LIKE 'doorman_generation%'"
        )
        found = {(name, trigger): text for name, trigger, text in cursor.fetchall()}
        expected = {
            (name, f"doorman_generation_{name}_{kind}")
            for name in WATCHED
            for kind in ("insert", "delete", "update")
        } | {(tokens, f"doorman_generation_{tokens}_update")}
        assert set(found) == expected
        for name, ignored in (*WATCHED.items(), (tokens, {"updated"})):
            columns = {c.name for c in connection.introspection.get_table_description(cursor, name)}
            update = found[(name, f"doorman_generation_{name}_update")]
            for column in columns - ignored:
                assert f'OLD."{column}" IS NOT NEW."{column}"' in update, (name, column)
            for column in ignored:
                assert f'OLD."{column}"' not in update, (name, column)
