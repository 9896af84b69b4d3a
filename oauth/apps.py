from django.apps import AppConfig


class OauthConfig(AppConfig):
    name = "oauth"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from oauth.receivers import receivers_connect

        receivers_connect()
