"""Portal sessions under a digest of their key (accounts.sessions).

Django's django_session table is no longer read or written. Its rows are deleted here: each
holds a key that works as a cookie wherever that table is read, and a database copy must hold
none. Everyone signed in to the portal signs in again once.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def old_sessions_delete(apps, schema_editor):
    # No dependency on django.contrib.sessions: where its table does not exist, nothing to do.
    connection = schema_editor.connection
    if "django_session" in connection.introspection.table_names():
        schema_editor.execute("DELETE FROM django_session")


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0003_federated_identity'),
    ]

    operations = [
        migrations.CreateModel(
            name='PortalSession',
            fields=[
                ('session_data', models.TextField(verbose_name='session data')),
                ('expire_date', models.DateTimeField(db_index=True, verbose_name='expire date')),
                ('session_key', models.CharField(max_length=64, primary_key=True, serialize=False, verbose_name='session key digest')),
                ('user', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='portal_sessions', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'session',
                'verbose_name_plural': 'sessions',
                'abstract': False,
            },
        ),
        migrations.RunPython(old_sessions_delete, migrations.RunPython.noop),
    ]
