"""The audit API's answers as drf-spectacular documents them (SPEC §4).

Response shapes only: the events are rendered by audit.selectors.event_data (the CSV export's
columns too) and the exports by audit.api.export_data, whose timestamps are `isoformat()`
(`+00:00`) where DRF's DateTimeField would write `Z`.
"""

from __future__ import annotations

from rest_framework import serializers

from audit.models import AuditExportStatus, AuditOutcome


class AuditActorOutput(serializers.Serializer):
    type = serializers.CharField(help_text="`user` or `app`.")
    id = serializers.CharField(help_text="The user's id, or the app's client_id.")
    name = serializers.CharField()


class AuditTargetOutput(serializers.Serializer):
    type = serializers.CharField()
    id = serializers.CharField()


class AuditEventOutput(serializers.Serializer):
    id = serializers.UUIDField()
    timestamp = serializers.DateTimeField()
    action = serializers.CharField(help_text="`app.created`, `token.issued`, …")
    outcome = serializers.ChoiceField(choices=AuditOutcome.choices)
    org_id = serializers.UUIDField(allow_null=True)
    actor = AuditActorOutput(allow_null=True, help_text="Null for a system event.")
    target = AuditTargetOutput()
    client_ip = serializers.IPAddressField(allow_null=True)
    user_agent = serializers.CharField()
    details = serializers.DictField(help_text="Never holds a secret, a token or a code.")


class AuditExportOutput(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=AuditExportStatus.choices)
    progress = serializers.IntegerField(help_text="Percent done, 0-100.")
    total = serializers.IntegerField()
    rowCount = serializers.IntegerField()
    filters = serializers.DictField(child=serializers.CharField())
    createdAt = serializers.DateTimeField()
    finishedAt = serializers.DateTimeField(allow_null=True)
    downloadUrl = serializers.CharField(allow_null=True)
