from django.apps import AppConfig


class OauthConfig(AppConfig):
    name = "oauth"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from connected_apps.models import ConnectedApp
        from oauth.keys import active_jwk
        from oauth.receivers import receivers_connect

        receivers_connect()
        # The server's signing key, which DOT reads through the application model.
        ConnectedApp.signing_key_source = staticmethod(active_jwk)
