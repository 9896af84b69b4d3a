from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The bottom layer. An app only for `ready()`: nothing here has models or templates."""

    name = "core"

    def ready(self) -> None:
        # drf-spectacular finds extensions (the security schemes) by subclass registration:
        # import them before any schema is generated.
        import core.schema  # noqa: F401
