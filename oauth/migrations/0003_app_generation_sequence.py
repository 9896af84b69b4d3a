"""The app-facts generation (oauth.principal_cache) on PostgreSQL: a sequence, advanced
whenever something the token endpoint reads about an app changes. A sequence is outside
transactions and takes no row lock: every session sees an advance at once, and writers never
wait on one another."""

from django.db import migrations

SEQUENCE = "doorman_app_generation"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"CREATE SEQUENCE IF NOT EXISTS {SEQUENCE}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP SEQUENCE IF EXISTS {SEQUENCE}")


class Migration(migrations.Migration):
    dependencies = [("oauth", "0002_lean_indexes")]

    operations = [migrations.RunPython(create, drop)]
