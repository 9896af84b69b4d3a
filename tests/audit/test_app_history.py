"""An app's history under the `client_id` filter (SPEC §4): how events are stamped with the app
they are about (audit.services), the one filter every reader uses (audit.selectors), and the
backfill of rows written before the column existed (migration 0007)."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.utils import DatabaseError

from accounts.access import Access
from accounts.models import Organization
from audit.models import AuditAction, AuditEvent
from audit.selectors import AuditFilters, app_history_match, audit_event_list
from audit.services import RequestMeta, audit_record
from connected_apps.controls import allowlist_approve, allowlist_remove
from connected_apps.services import (
    connected_app_delete,
    connected_app_rotate_secret,
    connected_app_set_scopes,
    connected_app_update,
)
from oauth.issuance import token_event_record, token_event_values
from oauth.principals import AppAccess, UserThroughAppAccess
from oauth.services import authorization_grant, authorization_revoke

pytestmark = pytest.mark.django_db


def history(org: Organization, client_id: str) -> list[str]:
    events = audit_event_list(org=org, filters=AuditFilters(client_id=client_id))
    return sorted(event.action for event in events)


def test_what_is_done_to_an_app_is_in_its_history_even_after_it_is_deleted(
    make_app, admin, member, org
):
    access = Access(user=admin)
    created = make_app()
    other = make_app(client_name="Other")
    app = created.app
    client_id = app.client_id
    connected_app_update(access=access, app=app, changes={"client_name": "Renamed"})
    connected_app_rotate_secret(access=access, app=app)
    connected_app_set_scopes(access=access, app=app, scopes=["openid", "profile"])
    allowlist_approve(access=access, org=org, client_id=client_id)
    allowlist_remove(access=access, org=org, client_id=client_id)
    authorization = authorization_grant(user=member, app=app, scopes=["openid"])
    authorization_revoke(actor=member, authorization=authorization)
    connected_app_delete(access=access, app=app)

    assert history(org, client_id) == sorted(
        [
            "app.created",
            "app.updated",
            "app.secret_rotated",
            "app.scopes_changed",
            "allowlist.approved",
            "allowlist.removed",
            "authorization.granted",
            "authorization.revoked",
            "app.deleted",
        ]
    )
    assert history(org, other.app.client_id) == ["app.created"]
    # Stamped from the target (an app) or the explicit app of an allowlist or consent event.
    assert set(
        AuditEvent.objects.exclude(action="app.created")
        .filter(subject_client_id=client_id)
        .values_list("target_type", flat=True)
    ) == {"connected_app", "allowlist_entry", "authorization"}


def test_what_an_app_does_is_in_its_history(make_app, code_app, admin, org):
    app = make_app(
        client_name="Manager",
        grant_types=["client_credentials"],
        redirect_uris=[],
        scopes=[{"scope": "manage:connected_apps", "context_params": {"org": str(org.id)}}],
    ).app
    other = code_app.app
    meta = RequestMeta()
    token_event_record(action=AuditAction.TOKEN_ISSUED, app=app, user=None, details={}, meta=meta)
    token_event_record(
        action=AuditAction.TOKEN_ISSUED, app=other, user=admin, details={}, meta=meta
    )
    # Its API calls' writes: on its own behalf, or for a user through a token it holds.
    audit_record(
        action=AuditAction.ENVIRONMENT_CREATED,
        organization=org,
        target=org,
        **AppAccess(app, admin, None).audit_actor,
    )
    through = UserThroughAppAccess(admin, frozenset({"full"}), other)
    audit_record(
        action=AuditAction.BUSINESS_GROUP_CREATED,
        organization=org,
        target=org,
        **through.audit_actor,
    )
    # One app changing another: in both histories.
    connected_app_update(
        access=AppAccess(app, admin, None), app=other, changes={"client_name": "X"}
    )

    assert history(org, app.client_id) == [
        "app.created",
        "app.updated",
        "environment.created",
        "token.issued",
    ]
    assert history(org, other.client_id) == [
        "app.created",
        "app.updated",
        "business_group.created",
        "token.issued",
    ]
    changed = AuditEvent.objects.get(action="app.updated")
    assert (changed.actor_client_id, changed.subject_client_id) == (app.client_id, other.client_id)


def test_the_portal_page_and_its_csv_use_the_same_filter(make_app, cc_app, admin, org):
    from django.test import Client

    app = make_app().app
    connected_app_rotate_secret(access=Access(user=admin), app=app)
    issued = {"action": AuditAction.TOKEN_ISSUED, "details": {}, "meta": RequestMeta()}
    token_event_record(app=app, user=admin, **issued)
    token_event_record(app=cc_app.app, user=None, **issued)
    client = Client()
    client.force_login(admin)
    page = client.get("/access-management/audit/", {"client_id": app.client_id})
    shown = sorted(row["event"].action for row in page.context["events"])
    assert shown == ["app.created", "app.secret_rotated", "token.issued"]
    download = client.get("/access-management/audit/export.csv", {"client_id": app.client_id})
    assert download.status_code == 200
    rows = b"".join(download.streaming_content).decode().splitlines()[1:]
    assert len(rows) == 3 and all(cc_app.app.client_id not in row for row in rows)


def test_a_token_event_names_its_app_once_and_costs_no_extra_index_entry(cc_app):
    """The acting app is a token event's subject: subject_client_id stays NULL, outside the
    partial index, so the token path pays no more than before."""
    values = token_event_values(
        action=AuditAction.TOKEN_ISSUED, app=cc_app.app, user=None, details={}, meta=RequestMeta()
    )
    assert values["actor_client_id"] == cc_app.app.client_id
    assert values["subject_client_id"] is None


def test_the_filter_is_an_indexed_match_not_a_search_of_details(org):
    events = audit_event_list(org=org, filters=AuditFilters(client_id="abc"))
    where = str(events.query).split(" WHERE ", 1)[1]
    assert "details" not in where
    assert "actor_client_id" in where and "subject_client_id" in where
    if connection.vendor != "postgresql":
        return
    # Both sides of the match can be answered from an index (the planner picks per table).
    matched = AuditEvent.objects.filter(app_history_match("abc"))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        sql, params = matched.query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "audit_event_actor_client" in plan and "audit_event_subject_client" in plan, plan


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_existing_rows_and_leaves_them_append_only(org):
    before, after = ("audit", "0006_lean_indexes"), ("audit", "0007_subject_client_id")
    executor = MigrationExecutor(connection)
    executor.migrate([before])
    Old = executor.loader.project_state([before]).apps.get_model("audit", "AuditEvent")

    def old_event(action: str, actor_client_id: str = "", **details) -> str:
        return Old.objects.create(
            action=action,
            organization_id=org.id,
            actor_client_id=actor_client_id,
            details=details,
        ).id

    ids = {
        "created": old_event("app.created", client_id="app-a"),
        "allowlisted": old_event("allowlist.approved", client_id="app-a", approved_scopes=[]),
        "token": old_event("token.issued", "app-a", grant_type="client_credentials"),
        "self_change": old_event("app.updated", "app-a", client_id="app-a"),
        "changed_by_other": old_event("app.updated", "app-b", client_id="app-a"),
        "no_app": old_event("user.created", username="x"),
        "empty": old_event("app.updated", client_id=""),
    }
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([after])
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    subject = dict(AuditEvent.objects.values_list("id", "subject_client_id"))
    assert {name: subject[pk] for name, pk in ids.items()} == {
        "created": "app-a",
        "allowlisted": "app-a",
        "token": None,
        "self_change": None,
        "changed_by_other": "app-a",
        "no_app": None,
        "empty": None,
    }
    assert history(org, "app-a") == [
        "allowlist.approved",
        "app.created",
        "app.updated",
        "app.updated",
        "token.issued",
    ]
    if connection.vendor == "postgresql":
        refused = pytest.raises(DatabaseError, match="append-only")
        with refused, transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE audit_auditevent SET subject_client_id = 'forged' WHERE id = %s",
                [ids["token"]],
            )
