from django.apps import AppConfig


class DeveloperConfig(AppConfig):
    """Developer pages: the sign-in button playground and the API docs."""

    name = "developer"

    def ready(self) -> None:
        # drf-spectacular finds extensions (the security schemes) by subclass registration:
        # import them before any schema is generated.
        import config.schema  # noqa: F401
