"""Audit rows are append-only on PostgreSQL (migration 0004): only the retention purge deletes."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError

from audit.models import AuditAction, AuditEvent
from audit.services import audit_record

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the append-only trigger is PostgreSQL's"
    ),
]


@pytest.fixture
def event(org, admin):
    return audit_record(action=AuditAction.USER_CREATED, organization=org, actor=admin)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_auditevent SET action = 'forged' WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ],
)
def test_raw_update_and_delete_are_refused(event, sql):
    refused = pytest.raises(DatabaseError, match="append-only")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [event.id])
    assert AuditEvent.objects.get(id=event.id).action == "user.created"


def test_the_orm_cannot_delete_either(event):
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(id=event.id).delete()
    assert AuditEvent.objects.filter(id=event.id).exists()


@pytest.mark.django_db(transaction=True)
def test_the_retention_setting_lets_a_delete_through_only_in_its_transaction(event):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL doorman.audit_retention = 'on'")
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [event.id])
    assert not AuditEvent.objects.filter(id=event.id).exists()
    other = audit_record(action=AuditAction.USER_CREATED, organization=None, actor=None)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [other.id])


def test_deleting_a_user_or_an_org_updates_no_audit_row(org, admin, event):
    admin.delete()
    org.delete()
    assert AuditEvent.objects.get(id=event.id).actor_user_id is not None
