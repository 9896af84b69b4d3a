"""Background CSV exports: POST …/auditLogs/exports, poll …/exports/{id}, then download.
The task runs eagerly without REDIS_URL and in a real worker with it (tests/audit/worker.py)."""

from __future__ import annotations

import contextlib
import csv
import io
import time

import pytest

from audit.models import AuditAction, AuditExport, AuditOutcome
from audit.services import audit_record
from tests.audit import worker

celery_worker_thread = worker.celery_worker_thread
pytestmark = pytest.mark.django_db(transaction=True)


def base(org):
    return f"/accounts/api/organizations/{org.id}/auditLogs/exports"


def _wait_done(client, url, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(url).json()
        if body["status"] in ("done", "failed") or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def test_an_export_runs_and_its_csv_downloads(
    celery_worker_thread, client_for, admin, org, other_admin
):
    for _ in range(3):
        audit_record(action=AuditAction.USER_CREATED, organization=org, actor=admin)
    audit_record(
        action=AuditAction.TOKEN_REFUSED,
        organization=org,
        actor=admin,
        outcome=AuditOutcome.FAILURE,
    )
    client = client_for(admin)
    created = client.post(base(org) + "?action=user.created")
    assert created.status_code == 202
    export_id = created.json()["id"]
    assert created.json()["filters"] == {"action": "user.created"}

    body = _wait_done(client, f"{base(org)}/{export_id}")
    assert body["status"] == "done", body
    assert body["progress"] == 100 and body["rowCount"] == 3 == body["total"]
    assert body["downloadUrl"] == f"{base(org)}/{export_id}/download"

    download = client.get(body["downloadUrl"])
    assert download.status_code == 200
    assert download["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(download.content.decode())))
    assert [r["action"] for r in rows] == ["user.created"] * 3

    # Another tenant sees nothing of it.
    assert client_for(other_admin).get(f"{base(org)}/{export_id}").status_code == 404


def test_exports_need_the_permission_and_valid_filters(client_for, admin, member, org):
    assert client_for(member).post(base(org)).status_code == 403
    assert client_for(admin).post(base(org) + "?from=never").status_code == 400
    assert not AuditExport.objects.exists()


def test_an_unfinished_or_unknown_export_has_no_download(client_for, admin, org):
    export = AuditExport.objects.create(organization=org, requested_by=admin)
    client = client_for(admin)
    assert client.get(f"{base(org)}/{export.id}").json()["downloadUrl"] is None
    assert client.get(f"{base(org)}/{export.id}/download").status_code == 404
    assert client.get(f"{base(org)}/not-a-uuid").status_code == 404


def test_a_missing_export_is_no_error():
    from audit.tasks import audit_export_run

    assert audit_export_run.apply(args=["8f0c1f7e-0000-4000-8000-000000000000"]).get() == {
        "status": "missing",
        "rows": 0,
    }


@contextlib.contextmanager
def broker_away():
    """The Celery broker at an address where nothing listens (Redis down), then back."""
    from config.celery import app

    def fresh_connections() -> None:  # made again from the broker URL on next use
        app._pool = None
        app.amqp._producer_pool = None

    url = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    fresh_connections()
    try:
        yield
    finally:
        app.conf.broker_url = url
        fresh_connections()


@pytest.mark.skipif(not worker.REAL_WORKER, reason="eager Celery has no broker to lose")
def test_an_export_asked_for_while_the_broker_is_away_runs_once_it_is_back(
    celery_worker_thread, client_for, admin, org
):
    from django.conf import settings
    from django.utils import timezone

    from audit.tasks import audit_exports_resume

    audit_record(action=AuditAction.USER_CREATED, organization=org, actor=admin)
    client = client_for(admin)
    with broker_away():
        started = time.monotonic()
        created = client.post(base(org))
        assert created.status_code == 202, created.content  # was a 500
        assert time.monotonic() - started < 3
    export_id = created.json()["id"]
    assert client.get(f"{base(org)}/{export_id}").json()["status"] == "pending"
    time.sleep(settings.DOORMAN_REDIS_RETRY_SECONDS + 0.3)  # the breaker the failure opened

    AuditExport.objects.filter(id=export_id).update(
        created_at=timezone.now() - timezone.timedelta(minutes=2)
    )
    assert audit_exports_resume.apply().get() == 1
    assert _wait_done(client, f"{base(org)}/{export_id}")["status"] == "done"
    assert audit_exports_resume.apply().get() == 0  # nothing pending any more
