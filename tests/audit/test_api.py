"""GET /accounts/api/organizations/{orgId}/auditLogs (SPEC §4, §7): access, shape, filters, CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.access import Access
from accounts.catalog import Permission
from accounts.services import business_group_create
from audit.models import AuditAction, AuditEvent, AuditOutcome
from audit.services import RequestMeta, audit_record
from tests.factories import PermissionGrantFactory, UserFactory

pytestmark = pytest.mark.django_db


def url(org, suffix=""):
    return f"/accounts/api/organizations/{org.id}/auditLogs{suffix}"


@pytest.fixture
def events(org, admin, other_org, other_admin):
    bg = business_group_create(access=Access(user=admin), parent=org, name="Sales")
    audit_record(
        action=AuditAction.USER_CREATED,
        organization=org,
        actor=admin,
        target=admin,
        details={"username": "x"},
        meta=RequestMeta(client_ip="10.0.0.1", user_agent="pytest-agent"),
    )

    class App:
        client_id = "app-client-1"
        name = "Robot"

    audit_record(
        action=AuditAction.TOKEN_REFUSED,
        organization=org,
        actor=None,
        actor_app=App(),
        outcome=AuditOutcome.FAILURE,
        details={"reason": "invalid_client", "formula": "=1+1"},
    )
    audit_record(action=AuditAction.ORGANIZATION_UPDATED, organization=other_org, actor=other_admin)
    return bg


def test_an_org_admin_reads_the_events_of_the_org_and_its_business_groups(
    client_for, admin, org, events
):
    body = client_for(admin).get(url(org)).json()
    actions = [e["action"] for e in body["data"]]
    assert body["total"] == 3 == len(actions)
    assert set(actions) == {"business_group.created", "user.created", "token.refused"}
    user_event = next(e for e in body["data"] if e["action"] == "user.created")
    assert set(user_event) == {
        "id", "timestamp", "action", "outcome", "org_id", "actor", "target",
        "client_ip", "user_agent", "details",
    }  # fmt: skip
    assert user_event["actor"] == {"type": "user", "id": str(admin.id), "name": "acme-admin"}
    assert user_event["target"] == {"type": "user", "id": str(admin.id)}
    assert user_event["client_ip"] == "10.0.0.1"
    assert user_event["user_agent"] == "pytest-agent"
    assert user_event["org_id"] == str(org.id)
    app_event = next(e for e in body["data"] if e["action"] == "token.refused")
    assert app_event["actor"] == {"type": "app", "id": "app-client-1", "name": "Robot"}
    assert app_event["outcome"] == "failure"


def test_another_tenant_gets_404_and_a_member_without_the_permission_403(
    client_for, org, member, other_admin, events
):
    assert client_for(other_admin).get(url(org)).status_code == 404
    assert client_for(member).get(url(org)).status_code == 403


def test_read_audit_logs_is_enough(client_for, org, events):
    auditor = UserFactory(organization=org, username="auditor")
    PermissionGrantFactory(user=auditor, organization=org, permission=Permission.READ_AUDIT_LOGS)
    assert client_for(auditor).get(url(org)).json()["total"] == 3


def test_the_log_of_a_business_group_holds_only_its_events(client_for, admin, events):
    body = client_for(admin).get(url(events)).json()
    assert [e["action"] for e in body["data"]] == ["business_group.created"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("action=user.created", {"user.created"}),
        ("outcome=failure", {"token.refused"}),
        ("client_id=app-client-1", {"token.refused"}),
        ("actor=app-client-1", {"token.refused"}),
        ("actor=acme-admin", {"user.created", "business_group.created"}),
        ("to=2000-01-01", set()),
        ("from=2000-01-01T00:00:00Z", {"user.created", "business_group.created", "token.refused"}),
    ],
)
def test_filters(client_for, admin, org, events, query, expected):
    body = client_for(admin).get(url(org, f"?{query}")).json()
    assert {e["action"] for e in body["data"]} == expected


def test_actor_by_user_id_and_paging(client_for, admin, org, events):
    body = client_for(admin).get(url(org, f"?actor={admin.id}&limit=1&offset=1")).json()
    assert body["total"] == 2 and len(body["data"]) == 1


def test_a_time_window(client_for, admin, org, events):
    soon = (timezone.now() + timedelta(minutes=5)).isoformat()
    past = (timezone.now() - timedelta(minutes=5)).isoformat()
    client = client_for(admin)
    assert client.get(url(org), {"from": past, "to": soon}).json()["total"] == 3
    assert client.get(url(org), {"from": soon}).json()["total"] == 0


@pytest.mark.parametrize(
    "query", ["from=yesterday", "to=2020-13-01", "outcome=maybe", "limit=x", "offset=-1",
              "from=2021-01-02&to=2021-01-01"],
)  # fmt: skip
def test_bad_filters_are_a_400_json(client_for, admin, org, events, query):
    response = client_for(admin).get(url(org, f"?{query}"))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_bad_filters_with_format_csv_still_answer_json(client_for, admin, org, events):
    response = client_for(admin).get(url(org, "?format=csv&outcome=maybe"))
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")


def _csv(response):
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_csv_by_format_or_accept_with_the_same_filters(client_for, admin, org, events):
    client = client_for(admin)
    rows = _csv(client.get(url(org, "?format=csv")))
    assert len(rows) == 3
    assert list(rows[0]) == [
        "id", "timestamp", "action", "outcome", "org_id", "actor_type", "actor_id",
        "actor_name", "target_type", "target_id", "client_ip", "user_agent", "details",
    ]  # fmt: skip
    refused = next(r for r in rows if r["action"] == "token.refused")
    assert refused["actor_type"] == "app" and refused["actor_id"] == "app-client-1"
    assert '"reason": "invalid_client"' in refused["details"]
    filtered = _csv(client.get(url(org, "?outcome=failure"), HTTP_ACCEPT="text/csv"))
    assert [r["action"] for r in filtered] == ["token.refused"]


def test_deleting_a_user_leaves_their_events_alone(client_for, admin, org, events):
    gone = UserFactory(organization=org, username="leaver")
    audit_record(action=AuditAction.USER_CREATED, organization=org, actor=gone)
    gone.delete()
    event = AuditEvent.objects.get(actor_name="leaver")
    assert event.actor_user_id is not None
    body = client_for(admin).get(url(org, "?actor=leaver")).json()
    assert body["data"][0]["actor"]["name"] == "leaver"
