from django.apps import AppConfig


class ConnectedAppsConfig(AppConfig):
    name = "connected_apps"
    default_auto_field = "django.db.models.BigAutoField"
