"""Reads of connected apps, scoped by the caller's Access."""

from __future__ import annotations

from connected_apps.models import AppScope, ConnectedApp


def app_scope_data(app: ConnectedApp) -> list[dict]:
    """`[{"scope", "context_params": {...}}]` as the scopes API shows them."""
    rows = AppScope.objects.filter(app=app).order_by("scope", "context_org_id")
    return [
        {
            "scope": row.scope,
            "context_params": {
                **({"org": str(row.context_org_id)} if row.context_org_id else {}),
                **(
                    {"envId": str(row.context_environment_id)} if row.context_environment_id else {}
                ),
            },
        }
        for row in rows
    ]
