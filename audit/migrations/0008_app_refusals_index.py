"""An app's refused token requests per day, for its page's usage chart (issue 16): a partial
index on `(actor_client_id, created_at)` holding the `token.refused` events only, so the token
path pays nothing for it when a token is issued."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("audit", "0007_subject_client_id")]

    operations = [
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                condition=models.Q(("action", "token.refused")),
                fields=["actor_client_id", "created_at"],
                name="audit_event_app_refusals",
            ),
        ),
    ]
