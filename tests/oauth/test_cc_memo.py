"""The client_credentials path uses an app this worker remembers without a cache round trip:
its insert carries the condition that nothing about any app changed since the app was
remembered (oauth.principal_cache's generation, which the database's triggers advance). A
change therefore takes effect on the very next request, whether or not this process saw it
happen, and however it was written."""

from __future__ import annotations

import pytest
from django.db import connection

from accounts.access import Access
from audit.models import AuditAction, AuditEvent
from connected_apps.models import AppScope, ConnectedApp
from connected_apps.services import connected_app_rotate_secret
from oauth import principal_cache
from oauth.models import AccessToken
from tests.oauth.tokenkit import client_credentials, post_form

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the insert-time check is PostgreSQL's"
    ),
]


def issued(app_with_secret, **extra) -> int:
    return post_form(client_credentials(app_with_secret, **extra)).status_code


def remembered(app_with_secret) -> bool:
    return principal_cache.app_facts.recent(app_with_secret.app.client_id) is not None


def test_a_remembered_app_issues_without_reading_anything(cc_app, monkeypatch):
    """One statement, the conditional insert (the test's transaction adds a savepoint around
    it), and no cache round trip (the usage count is only sent)."""
    from django.test.utils import CaptureQueriesContext

    assert issued(cc_app) == 200 and remembered(cc_app)

    def no_round_trip(*commands):
        raise AssertionError(f"a cache round trip: {commands}")

    monkeypatch.setattr("core.cache.hot_path_commands", no_round_trip)
    with CaptureQueriesContext(connection) as queries:
        assert issued(cc_app) == 200
    sent = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(sent) == 1 and sent[0].startswith("WITH new_access AS (INSERT"), sent
    assert AccessToken.objects.count() == 2
    assert AuditEvent.objects.filter(action=AuditAction.TOKEN_ISSUED).count() == 2


def test_a_change_no_worker_saw_stops_the_next_request(cc_app):
    """Another process disabled the app: this one's memo still says enabled, but the
    generation its UPDATE advanced makes the insert issue nothing, and the fresh load
    refuses."""
    assert issued(cc_app) == 200 and remembered(cc_app)
    ConnectedApp.objects.filter(pk=cc_app.app.pk).update(enabled=False)  # no signals here
    assert issued(cc_app) == 401
    assert AccessToken.objects.count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.TOKEN_ISSUED).count() == 1


def test_a_rotated_secret_stops_working_at_once(cc_app, admin):
    assert issued(cc_app) == 200 and remembered(cc_app)
    rotated = connected_app_rotate_secret(access=Access(user=admin), app=cc_app.app)
    assert issued(cc_app) == 401
    assert issued(rotated) == 200
    assert AccessToken.objects.count() == 2


def test_a_removed_scope_is_refused_at_once(cc_app):
    assert issued(cc_app, scope="view:environment") == 200 and remembered(cc_app)
    AppScope.objects.filter(app=cc_app.app, scope="view:environment").delete()
    assert issued(cc_app, scope="view:environment") == 400
    assert AccessToken.objects.count() == 1


def test_an_unchanged_generation_keeps_issuing(cc_app):
    """The condition is exact: a remembered app whose generation still holds issues."""
    assert issued(cc_app) == 200
    entry = principal_cache.app_facts.recent(cc_app.app.client_id)
    assert entry.generation == principal_cache.app_generation_current()
    assert issued(cc_app) == 200 and AccessToken.objects.count() == 2
