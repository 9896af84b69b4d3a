"""Housekeeping beat tasks (config/celery.py): each purges what has expired, keeps what lives,
and returns its counts. Eager without REDIS_URL, a real worker with it (tests/audit/worker.py)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone

from audit.models import AuditAction, AuditEvent, AuditExport
from audit.services import audit_record
from audit.tasks import audit_purge_expired
from config.celery import app as celery_app
from oauth.models import AccessToken, Grant, IDToken, RefreshToken, UsedAssertion
from oauth.tasks import oauth_purge_expired
from tests.audit import worker

celery_worker_thread = worker.celery_worker_thread
run_task = worker.run_task

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_beat_schedule_names_registered_tasks():
    celery_app.loader.import_default_modules()  # what a worker does: autodiscover every app
    names = {entry["task"] for entry in celery_app.conf.beat_schedule.values()}
    assert names == {
        "oauth.purge_expired",
        "audit.purge_expired",
        "audit.exports_resume",
        "connected_apps.usage_rollup",
        "accounts.purge_expired_sessions",
    }
    assert names <= set(celery_app.tasks)


def _token(admin, app, *, expires, **fields):
    return AccessToken.objects.create(
        user=admin, application=app, token=uuid.uuid4().hex, expires=expires, scope="openid",
        **fields,
    )  # fmt: skip


def test_oauth_purge(admin, make_app, run_task):
    app = make_app().app
    now = timezone.now()
    live = _token(admin, app, expires=now + timedelta(hours=1))
    expired = _token(admin, app, expires=now - timedelta(minutes=1))
    # An expired access token a live refresh token points to stays with it.
    expired_but_refreshable = _token(admin, app, expires=now - timedelta(minutes=1))
    live_refresh = RefreshToken.objects.create(
        user=admin, application=app, token=uuid.uuid4().hex, access_token=expired_but_refreshable
    )
    old_refresh = RefreshToken.objects.create(
        user=admin, application=app, token=uuid.uuid4().hex, revoked=now - timedelta(days=100)
    )
    RefreshToken.objects.filter(id=old_refresh.id).update(created=now - timedelta(days=91))
    id_kwargs = {"user": admin, "application": app}
    held_id_token = IDToken.objects.create(expires=now - timedelta(minutes=1), **id_kwargs)
    live.id_token = held_id_token
    live.save(update_fields=["id_token"])
    orphan_id_token = IDToken.objects.create(expires=now - timedelta(minutes=1), **id_kwargs)
    live_id_token = IDToken.objects.create(expires=now + timedelta(minutes=5), **id_kwargs)
    code_kwargs = {"user": admin, "application": app, "redirect_uri": "https://c.example/cb"}
    live_code = Grant.objects.create(
        code="a" * 64, expires=now + timedelta(minutes=5), **code_kwargs
    )
    Grant.objects.create(code="b" * 64, expires=now - timedelta(seconds=1), **code_kwargs)
    live_jti = UsedAssertion.objects.create(
        jti_digest="c" * 64, client_id="x", expires_at=now + timedelta(minutes=5)
    )
    UsedAssertion.objects.create(
        jti_digest="d" * 64, client_id="x", expires_at=now - timedelta(seconds=1)
    )

    counts = run_task(oauth_purge_expired)

    assert counts == {
        "access_tokens": 1, "refresh_tokens": 1, "id_tokens": 1, "authorization_codes": 1,
        "used_assertions": 1,
    }  # fmt: skip
    assert set(IDToken.objects.values_list("id", flat=True)) == {
        held_id_token.id, live_id_token.id
    }  # fmt: skip
    assert not IDToken.objects.filter(id=orphan_id_token.id).exists()
    assert set(AccessToken.objects.values_list("id", flat=True)) == {
        live.id, expired_but_refreshable.id
    }  # fmt: skip
    assert not AccessToken.objects.filter(id=expired.id).exists()
    assert list(RefreshToken.objects.values_list("id", flat=True)) == [live_refresh.id]
    assert list(Grant.objects.values_list("id", flat=True)) == [live_code.id]
    assert list(UsedAssertion.objects.values_list("id", flat=True)) == [live_jti.id]


def _backdate(event, days):
    # Test set-up only: the append-only trigger refuses UPDATE, so lift it for this row.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
            try:
                cursor.execute(
                    "UPDATE audit_auditevent SET created_at = %s WHERE id = %s",
                    [timezone.now() - timedelta(days=days), event.id],
                )
            finally:
                cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")
    else:
        AuditEvent.objects.filter(id=event.id).update(
            created_at=timezone.now() - timedelta(days=days)
        )


def test_audit_retention_purges_old_events_through_the_bypass(org, admin, run_task):
    old = audit_record(action=AuditAction.USER_CREATED, organization=org, actor=admin)
    recent = audit_record(action=AuditAction.USER_CREATED, organization=org, actor=admin)
    _backdate(old, 400)
    _backdate(recent, 300)
    old_export = AuditExport.objects.create(organization=org, requested_by=admin)
    AuditExport.objects.filter(id=old_export.id).update(
        created_at=timezone.now() - timedelta(days=8)
    )
    new_export = AuditExport.objects.create(organization=org, requested_by=admin)

    assert run_task(audit_purge_expired) == {"audit_events": 1, "exports": 1}

    assert list(AuditExport.objects.values_list("id", flat=True)) == [new_export.id]

    assert not AuditEvent.objects.filter(id=old.id).exists()
    assert AuditEvent.objects.filter(id=recent.id).exists()


@override_settings(DOORMAN_AUDIT_RETENTION_DAYS=0)
def test_retention_zero_keeps_everything(org, admin):
    old = audit_record(action=AuditAction.USER_CREATED, organization=org, actor=admin)
    _backdate(old, 4000)
    # In-process whatever the broker: the setting is overridden in this thread only.
    assert audit_purge_expired.apply().get() == {"audit_events": 0, "exports": 0}
    assert AuditEvent.objects.filter(id=old.id).exists()


def test_usage_rollup_moves_pending_counts_once(make_app, run_task):
    from connected_apps.models import AppUsageDay
    from connected_apps.selectors import app_usage
    from connected_apps.tasks import usage_rollup_task
    from connected_apps.usage import usage_record_token_issued

    app = make_app().app
    for _ in range(5):
        usage_record_token_issued(app=app)
    assert run_task(usage_rollup_task) == 5
    assert AppUsageDay.objects.get(app=app).tokens_issued == 5
    assert app_usage(app=app).tokens_issued[-1]["count"] == 5
    assert run_task(usage_rollup_task) == 0
    assert AppUsageDay.objects.get(app=app).tokens_issued == 5


@pytest.fixture
def request_statement_timeout():
    """This thread's connection as production's processes open it, with a statement timeout
    scaled down to this test's data (`DOORMAN_DB_STATEMENT_TIMEOUT` is 10 s for a day of
    token requests' events; 50 ms for the rows below)."""
    options = connection.settings_dict["OPTIONS"]
    previous = options.get("options")
    connection.close()
    options["options"] = "-c statement_timeout=50 -c lock_timeout=50"
    yield
    connection.close()
    if previous is None:
        options.pop("options")
    else:
        options["options"] = previous


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's statement_timeout")
def test_the_retention_purge_is_not_cut_at_the_request_statement_timeout(
    org, request_statement_timeout
):
    """Every token request appends an event, so a day of them is deleted at once: the beat
    task must not be cancelled by the timeout that bounds what a request waits for (it would
    fail every night while the backlog grew); the timeout still holds afterwards."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 0")  # set-up only
        cursor.execute(
            "INSERT INTO audit_auditevent (id, created_at, action, outcome, organization_id,"
            " actor_client_id, actor_name, target_type, target_id, user_agent, details)"
            " SELECT gen_random_uuid(), now() - interval '400 days', 'token.issued', 'success',"
            " %s, 'robot', '', '', '', '', '{}' FROM generate_series(1, 100000)",
            [org.id],
        )
    assert audit_purge_expired()["audit_events"] == 100_000
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "50ms"
