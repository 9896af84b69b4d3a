"""The portal's Audit log page (/access-management/audit/)."""

from __future__ import annotations

import pytest
from django.test import Client

from audit.models import AuditAction, AuditExport, AuditOutcome
from audit.services import audit_record

pytestmark = pytest.mark.django_db
PAGE = "/access-management/audit/"


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def events(org, admin):
    class App:
        client_id = "robot-client"
        name = "Robot"

    for n in range(55):
        audit_record(
            action=AuditAction.USER_CREATED, organization=org, actor=admin, details={"n": n}
        )
    audit_record(
        action=AuditAction.TOKEN_REFUSED,
        organization=org,
        actor=None,
        actor_app=App(),
        outcome=AuditOutcome.FAILURE,
        details={"grant_type": "client_credentials", "error": "invalid_client"},
    )


def test_an_admin_sees_the_nav_entry_and_50_events_a_page(org, admin, events):
    client = signed_in(admin)
    home = client.get("/")
    assert b"Audit log" in home.content
    page = client.get(PAGE)
    assert page.status_code == 200
    assert page.context["page_obj"].paginator.count == 56
    assert len(page.context["events"]) == 50
    assert b"Export CSV" in page.content and b"Export in background" in page.content
    assert len(client.get(PAGE + "?page=2").context["events"]) == 6


def test_filters_and_the_app_actor(org, admin, events):
    page = signed_in(admin).get(PAGE, {"outcome": "failure", "action": "token.refused"})
    rows = page.context["events"]
    assert len(rows) == 1 and rows[0]["actor"]["type"] == "app"
    assert b"Robot" in page.content and b"invalid_client" in page.content
    bad = signed_in(admin).get(PAGE, {"from": "nonsense"})
    assert bad.status_code == 400 and b"ISO 8601" in bad.content  # test_audit_page.py


def test_a_member_without_the_permission_is_refused(member, events):
    assert signed_in(member).get(PAGE).status_code == 403
    page = signed_in(member).get("/my-apps/")  # an end user's home: / sends them there
    assert page.status_code == 200 and b"Audit log" not in page.content


def test_the_streamed_csv_and_the_background_export(org, admin, events):
    client = signed_in(admin)
    response = client.get("/access-management/audit/export.csv?outcome=failure")
    body = b"".join(response.streaming_content).decode()
    assert response["Content-Type"].startswith("text/csv")
    assert body.count("\n") == 2 and "token.refused" in body
    started = client.post("/access-management/audit/exports?outcome=failure")
    assert started.status_code == 302
    export = AuditExport.objects.get()
    assert export.filters == {"outcome": "failure"}
    assert f"export={export.id}" in started["Location"]
    page = client.get(started["Location"])
    assert b'id="audit-export"' in page.content
