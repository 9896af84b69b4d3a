"""`subject_client_id`: the app an event is about when that is not its acting app, so the
audit log's `client_id` filter finds an app's whole history in one indexed query (SPEC §4).

Existing rows are filled from what they hold: every event about an app has always named it in
`details["client_id"]` (app, allowlist and authorization events); token events name their app
as the actor and keep NULL. The rows are append-only on PostgreSQL (migration 0004): the
backfill switches the trigger off and on again inside this migration's transaction, so no
other transaction ever sees the table without it."""

from django.db import migrations, models
from django.db.models.fields.json import KT
from django.db.models.functions import Left

TRIGGER = "audit_auditevent_append_only"


def _set_trigger(schema_editor, enabled: bool) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    if not schema_editor.connection.in_atomic_block:  # never leave the table unguarded
        raise RuntimeError("The audit backfill must run inside the migration's transaction.")
    verb = "ENABLE" if enabled else "DISABLE"
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE audit_auditevent {verb} TRIGGER {TRIGGER}")


def backfill(apps, schema_editor):
    AuditEvent = apps.get_model("audit", "AuditEvent")
    about = KT("details__client_id")
    events = (
        AuditEvent.objects.filter(details__has_key="client_id")
        .exclude(details__client_id="")
        .exclude(actor_client_id=about)
    )
    _set_trigger(schema_editor, enabled=False)
    events.update(subject_client_id=Left(about, 100))
    _set_trigger(schema_editor, enabled=True)


class Migration(migrations.Migration):
    dependencies = [("audit", "0006_lean_indexes")]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="subject_client_id",
            field=models.CharField(blank=True, max_length=100, null=True),
        ),
        # The column is dropped when going back: nothing to undo.
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=False),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                condition=models.Q(("subject_client_id__isnull", False)),
                fields=["subject_client_id"],
                name="audit_event_subject_client",
            ),
        ),
    ]
