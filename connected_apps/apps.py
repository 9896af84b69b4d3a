from django.apps import AppConfig


class ConnectedAppsConfig(AppConfig):
    name = "connected_apps"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from connected_apps import audit_targets  # noqa: F401  (names apps in the audit log)
